from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "tenantatlas.onboarding"
    label = "onboarding"
    verbose_name = "Customer onboarding"
