"""The wheel's C part: api/govern/_gate.c (the limits ledger's lock and a client's admit and settle; why in C:
docs/limits.md), compiled by setuptools' own `build_ext` (the compiler and flags this Python was built with) next
to its source, so that an editable install (`make run`, `make test`) imports it from the checkout and a wheel
carries it. Run by hatchling for every wheel it builds ([tool.hatch.build.targets.wheel.hooks.custom])."""

from __future__ import annotations

import os
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

EXTENSION = "api.govern._gate"
SOURCE = "api/govern/_gate.c"


class CompiledGate(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        from setuptools import Distribution, Extension

        here = os.getcwd()
        os.chdir(self.root)
        try:
            extension = Extension(EXTENSION, [SOURCE], extra_compile_args=["-O2", "-Wall"])
            distribution = Distribution({"name": "gatehouse", "ext_modules": [extension]})
            build = distribution.get_command_obj("build_ext")
            build.inplace = True
            build.ensure_finalized()
            build.run()
            built = os.path.relpath(build.get_ext_fullpath(EXTENSION), self.root)
        finally:
            os.chdir(here)
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][os.path.join(self.root, built)] = built
