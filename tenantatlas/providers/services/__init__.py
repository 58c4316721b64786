"""State changes of provider connections and credentials; each writes its audit event.

connections (create, edit, enable/disable, delete), defaults (the default connection and its
hand-over), credentials (sealing, rotation, encryption-key rotation), health (a check's outcome).
"""
