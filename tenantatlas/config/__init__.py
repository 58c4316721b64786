"""What ``tenantatlas/settings.py`` builds its settings with: checks that stop a start on an
unusable value, and the structured values (task backends, mailers, logging) made from the
environment's.

``settings.py`` stays the one settings module: it reads every variable and names every setting;
these functions take values, not variable names, and read the environment only where the
variable's name is itself computed (an operation type's time limit).
"""
