def workspace_nav(request):
    return {}
