"""Running the course for a room: a local JupyterHub (``python -m workshop.hub``), the
measurements that size a hub (``python -m workshop.measure_hub``) and the Zero to JupyterHub
configuration (``workshop/z2jh/config.yaml``). See docs/jupyterhub.md."""
