"""The wheel carries templates/ and static/ inside the package, where `voice_lab.assets` looks
first; the tree keeps them at its top, where Flask finds them in a checkout."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithAssets(build_py):
    """build_py, plus the page assets copied into the built package."""

    def run(self) -> None:
        super().run()
        for name in ("templates", "static"):
            shutil.copytree(name, Path(self.build_lib, "voice_lab", name), dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithAssets})
