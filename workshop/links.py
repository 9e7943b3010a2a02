"""``python -m workshop.links``: the links learners click: an nbgitpuller link for a JupyterHub
and a Binder link, both opening lesson 00.

``--repo`` is where the course is published (a public git URL). The nbgitpuller link asks the
learner's server to clone or update that repository into ``<home>/<repo name>/`` (never
overwriting a learner's edits: nbgitpuller merges) and then opens lesson 00 there.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import quote, urlencode, urlsplit

from workshop.learner_home import first_lesson_url

#: where the course is published; replace with the real address (``--repo``)
COURSE_REPO = "https://github.com/YOUR-ORG/from-pretrained"
BRANCH = "main"


def target_folder(repo: str) -> str:
    """The folder nbgitpuller clones ``repo`` into (its default ``targetpath``: the last part
    of the URL; a trailing ``.git`` would stay in the name, so leave it off the URL)."""
    return repo.rstrip("/").split("/")[-1]


def lesson_urlpath(repo: str | None = None) -> str:
    """JupyterLab's path to lesson 00: inside the clone for nbgitpuller (``repo`` given), at
    the top for Binder and the local hub."""
    path = first_lesson_url().lstrip("/")  # lab/tree/notebooks/00_start_here.ipynb
    if repo is None:
        return path
    return path.replace("lab/tree/", f"lab/tree/{target_folder(repo)}/", 1)


def nbgitpuller_link(hub_url: str, repo: str = COURSE_REPO, branch: str = BRANCH) -> str:
    """``https://HUB/hub/user-redirect/git-pull?repo=...&urlpath=...&branch=...``."""
    if urlsplit(repo).scheme not in ("https", "http") or repo.endswith(".git"):
        raise ValueError(f"repo {repo!r}: give the repository's https URL without '.git' (the "
                         "clone folder is named after the URL's last part)")
    query = urlencode({"repo": repo, "urlpath": lesson_urlpath(repo), "branch": branch})
    return f"{hub_url.rstrip('/')}/hub/user-redirect/git-pull?{query}"


def binder_link(repo: str = COURSE_REPO, ref: str = BRANCH) -> str:
    """mybinder.org link for a GitHub repository, opening lesson 00 in JupyterLab."""
    parts = urlsplit(repo)
    owner_name = parts.path.strip("/")
    if parts.netloc != "github.com" or owner_name.count("/") != 1:
        raise ValueError(f"repo {repo!r}: give https://github.com/OWNER/NAME")
    return (f"https://mybinder.org/v2/gh/{owner_name}/{quote(ref, safe='')}"
            f"?urlpath={quote(lesson_urlpath(), safe='')}")


def binder_badge(repo: str = COURSE_REPO, ref: str = BRANCH) -> str:
    """The README badge (Markdown)."""
    return f"[![Launch on Binder](https://mybinder.org/badge_logo.svg)]({binder_link(repo, ref)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workshop.links",
        description="Print the nbgitpuller link for your JupyterHub and the Binder badge.")
    parser.add_argument("--repo", default=COURSE_REPO, help="default: %(default)s")
    parser.add_argument("--branch", default=BRANCH, help="default: %(default)s")
    parser.add_argument("--hub", default="https://hub.example.org",
                        help="your hub's address (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        print("nbgitpuller:", nbgitpuller_link(args.hub, args.repo, args.branch))
        print("Binder:     ", binder_link(args.repo, args.branch))
        print("badge:      ", binder_badge(args.repo, args.branch))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
