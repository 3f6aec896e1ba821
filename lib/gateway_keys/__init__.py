"""Code that runs in the cluster, inside LiteLLM's own image, shipped in ConfigMaps.

- ``reconciler.py``: makes LiteLLM's keys match the apps' ``GatewayAccess`` declarations
  (``python /reconciler/reconcile.py``). Standard library only.
- ``database_gate.py``: the salt-key guard of the migration Job and the schema gate of the
  serving pods (``python /database-gate/database_gate.py salt|wait``). Standard library plus
  ``psycopg``, which LiteLLM's image has (``litellm-proxy-extras`` requires it).

Each file is shipped whole and run as a script: it imports nothing from this project.
"""
