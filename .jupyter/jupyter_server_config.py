"""JupyterLab settings for the course, read because `make lab` sets JUPYTER_CONFIG_PATH here.

Config files in the working directory are not read by Jupyter; JUPYTER_CONFIG_PATH is.
"""

import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

c = get_config()  # noqa: F821 (provided by traitlets when Jupyter loads this file)

c.ServerApp.root_dir = str(REPO)
# Open on lesson 00 (or the first lesson that exists), in the learner's own copies under
# my-work/ once `python -m helpers my-work` made them, else in notebooks/. `jupyter lab`
# overwrites ServerApp.default_url with LabApp's own default ("/lab"), so it goes on LabApp.
for _folder in ("my-work", "notebooks"):
    _lessons = sorted((REPO / _folder).glob("[0-9][0-9]_*.ipynb"))
    if _lessons:
        c.LabApp.default_url = f"/lab/tree/{_folder}/{_lessons[0].name}"
        break
# Course defaults for JupyterLab settings (news toast off, widget state not saved).
c.LabApp.app_settings_dir = str(HERE / "lab" / "settings")

# Saved notebooks never hold a widget view: a quiz widget lives in the kernel, and a reloaded
# page would show "Error displaying widget: model not found" in its place. The file gets a
# "Run this cell to show the questions" note instead; the open page keeps its live widgets.


def _save_without_widget_views(model, **kwargs):
    try:
        from helpers.widgets import pre_save_hook
    except Exception as exc:  # helpers not importable: save as is rather than fail the save
        kwargs["contents_manager"].log.warning("course pre-save hook unavailable: %r", exc)
        return
    pre_save_hook(model, **kwargs)


c.ContentsManager.pre_save_hook = _save_without_widget_views
# jupyter_server validates a configured hook after setting it, and then warns that it
# "overrides" itself; there is no other hook to override here.
warnings.filterwarnings("ignore", message="Overriding existing pre_save_hook", category=UserWarning)
# Hide packaging metadata (from_pretrained.egg-info, made by `pip install -e .`) from the file
# browser, on top of Jupyter's own defaults.
c.ContentsManager.hide_globs = ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~", "*.egg-info"]
