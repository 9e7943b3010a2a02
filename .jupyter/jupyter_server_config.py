"""JupyterLab settings for the course, read because `make lab` sets JUPYTER_CONFIG_PATH here.

Config files in the working directory are not read by Jupyter; JUPYTER_CONFIG_PATH is.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

c = get_config()  # noqa: F821 (provided by traitlets when Jupyter loads this file)

c.ServerApp.root_dir = str(REPO)
# Open on lesson 00 (or the first lesson that exists). `jupyter lab` overwrites
# ServerApp.default_url with LabApp's own default ("/lab"), so the setting must go on LabApp.
_lessons = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
if _lessons:
    c.LabApp.default_url = f"/lab/tree/notebooks/{_lessons[0].name}"
# Course defaults for JupyterLab settings (news toast off, widget state not saved).
c.LabApp.app_settings_dir = str(HERE / "lab" / "settings")
