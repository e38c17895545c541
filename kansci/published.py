"""Published numbers the studies compare against, each with its source.

Every number a study prints beside its own comes from here, so a reader can
check it against the paper it cites. Sources:

- the KAN paper: Liu et al. 2024, "KAN: Kolmogorov-Arnold Networks", arXiv 2404.19756;
- adaptive physics-informed KANs: Rigas et al. 2024, "Adaptive Training of
  Grid-Dependent Physics-Informed Kolmogorov-Arnold Networks", arXiv 2407.17611;
- the PINN benchmark PINNacle: Hao et al. 2023, arXiv 2306.08827.

Numbers are as the sources report them. Where a study needs another measure
than the one published (a relative L2 error where the paper gives an MSE),
the entry says how it was converted (:attr:`Published.note`).

The KAN paper's numbers and places were checked against its text. Its table
numbers changed between arXiv versions; the ones here are those of a version
later than the first (special functions Table 1, Feynman Table 2, knots Table 3,
mobility edges Table 5), and each place also names the table by its subject.
The four adaptive-PIKAN errors of Rigas et al. (diffusion, Helmholtz, Burgers,
Allen-Cahn; all [2,8,8,1]) were checked against the runs the authors publish with
their code (repository srigas/jaxKAN, the notebooks of the paper's §III adaptive
training results), which print them in percent to four digits; the number of the
paper's table that holds them was not checked. The baselines Rigas et al. cite
(MLP-PINN for Helmholtz, PINN+RBA for Allen-Cahn) and all PINNacle numbers were
not checked against the papers; their entries say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ANDERSON",
    "KAN_PAPER",
    "KNOTS",
    "PDE",
    "PINNACLE",
    "POISSON_EXACT_RMS",
    "RIGAS",
    "SPECIAL",
    "Published",
    "Source",
    "SpecialFunction",
]


@dataclass(frozen=True)
class Source:
    """Where a published number is printed.

    Attributes
    ----------
    paper : str
        Authors, year and arXiv id, e.g. ``"Liu et al. 2024, arXiv 2404.19756"``.
    where : str
        Section, table or figure, e.g. ``"§3.2, Table 1 (special functions)"``.
    """

    paper: str
    where: str

    def __post_init__(self) -> None:
        if "arXiv" not in self.paper or not self.where:
            raise ValueError(f"a source names its paper's arXiv id and a section, table or figure: {self}")

    def __str__(self) -> str:
        return f"{self.paper}, {self.where}"


@dataclass(frozen=True)
class Published:
    """One published number.

    Attributes
    ----------
    value : float
        The number, in the unit of ``measure`` (accuracies as fractions in [0, 1]).
    measure : str
        What it is, e.g. ``"relative L2 error"``, ``"test RMSE"``, ``"test accuracy"``.
    source : Source
        Where it is printed.
    params : float, optional
        The model's parameter count where the source gives it.
    note : str
        How the value was read or converted, if it is not printed as is.
    """

    value: float
    measure: str
    source: Source
    params: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and self.value > 0):
            raise ValueError(f"a published value is a positive finite number, got {self.value!r}")

    def cite(self) -> str:
        """The source as text, with the conversion note when there is one."""
        return f"{self.source}" + (f" ({self.note})" if self.note else "")


KAN_PAPER = "Liu et al. 2024, arXiv 2404.19756"
RIGAS = "Rigas et al. 2024, arXiv 2407.17611"
PINNACLE = "Hao et al. 2023 (PINNacle), arXiv 2306.08827"

POISSON_EXACT_RMS = 0.4345
"""Root mean square of the paper's exact solution sin(pi x) sin(pi y^2) over [-1, 1]^2 (to 4 digits; checked
in the tests): the paper's MSEs divided by its square give relative L2 errors."""

_POISSON = Source(KAN_PAPER, "§3.4, text (the MSEs and sizes) and Figure 3.3")
_MSE_NOTE = "the paper gives MSE ~{mse:g}; relative L2 = sqrt(MSE) / {rms} (RMS of the exact solution)"
_RIGAS_UNCHECKED = "value and place not checked against the paper's tables"
_RIGAS_RUN = (
    "value checked against the run the authors publish in their repository srigas/jaxKAN "
    "(§III adaptive training notebooks, printed as {pct} %); the paper's table number not checked"
)
_PINNACLE_UNCHECKED = "value and place not checked against the paper's table (its versions may differ)"


def _pinnacle(case: str, vanilla: float, best: tuple[str, float]) -> dict[str, Published]:
    """PINNacle's vanilla PINN and its best variant on ``case`` (main L2RE table, mean of 3 runs)."""
    where = Source(PINNACLE, f"main L2RE table (v2), {case}")
    return {
        "PINNacle vanilla PINN": Published(vanilla, "relative L2 error", where, note=_PINNACLE_UNCHECKED),
        f"PINNacle best ({best[0]})": Published(best[1], "relative L2 error", where, note=_PINNACLE_UNCHECKED),
    }


PDE: dict[str, dict[str, Published]] = {
    "poisson_paper": {
        "KAN [2,10,1] (paper, MSE ~1e-7)": Published(
            7.3e-4, "relative L2 error", _POISSON, params=1e2, note=_MSE_NOTE.format(mse=1e-7, rms=POISSON_EXACT_RMS)
        ),
        "MLP (paper, MSE ~1e-5)": Published(
            7.3e-3, "relative L2 error", _POISSON, params=1e4, note=_MSE_NOTE.format(mse=1e-5, rms=POISSON_EXACT_RMS)
        ),
    },
    "helmholtz": {
        "adaptive PIKAN [2,8,8,1]": Published(
            1.02e-3,
            "relative L2 error",
            Source(RIGAS, "§III, adaptive training results, Helmholtz, adaptive PIKAN [2,8,8,1] (relative L2)"),
            note=_RIGAS_RUN.format(pct="0.1021"),
        ),
        "MLP-PINN": Published(
            3.5e-3,
            "relative L2 error",
            Source(RIGAS, "results, Helmholtz (relative L2)"),
            note=f"the MLP baseline it cites; {_RIGAS_UNCHECKED}",
        ),
    },
    "heat": {
        "adaptive PIKAN": Published(
            2.10e-4,
            "relative L2 error",
            Source(RIGAS, "§III, adaptive training results, diffusion, adaptive PIKAN [2,8,8,1] (relative L2)"),
            note=_RIGAS_RUN.format(pct="0.0210"),
        )
    },
    "burgers": {
        "adaptive PIKAN": Published(
            2.43e-2,
            "relative L2 error",
            Source(RIGAS, "§III, adaptive training results, Burgers, adaptive PIKAN [2,8,8,1] (relative L2)"),
            note=_RIGAS_RUN.format(pct="2.4296"),
        ),
        "PINNacle MLP (Adam->LBFGS)": Published(
            1.33e-2, "relative L2 error", Source(PINNACLE, "results table, Burgers 1d-C"), note=_PINNACLE_UNCHECKED
        ),
    },
    "allen_cahn": {
        "adaptive PIKAN": Published(
            1.41e-2,
            "relative L2 error",
            Source(RIGAS, "§III, adaptive training results, Allen-Cahn, adaptive PIKAN [2,8,8,1] (relative L2)"),
            note=_RIGAS_RUN.format(pct="1.4143"),
        ),
        "PINN+RBA": Published(
            1.51e-2,
            "relative L2 error",
            Source(RIGAS, "results, Allen-Cahn (relative L2)"),
            note=f"the baseline it cites; {_RIGAS_UNCHECKED}",
        ),
    },
    "inverse_poisson": {
        "PINNacle vPINN": Published(
            1.96e-2,
            "relative L2 error",
            Source(PINNACLE, "results table, PInv"),
            note=f"{_PINNACLE_UNCHECKED}; a secondary summary gives 2.45e-2 for this cell, also not checked",
        ),
        "PINNacle vanilla PINN": Published(
            9.42e-2, "relative L2 error", Source(PINNACLE, "results table, PInv"), note=_PINNACLE_UNCHECKED
        ),
    },
    "poisson_holes": _pinnacle("Poisson 2d-C", 6.94e-1, ("NTK", 1.23e-2)),
    "wave": _pinnacle("Wave 1d-C", 5.88e-1, ("NTK", 9.79e-2)),
    "poisson_nd": _pinnacle("PNd", 3.04e-3, ("LRA", 4.58e-4)),
}
"""Problem (as :mod:`kansci.studies.poisson` names it) -> label -> published relative L2 error."""


@dataclass(frozen=True)
class SpecialFunction:
    """What the paper's special-function table gives for one function.

    Attributes
    ----------
    shape : tuple of int
        The smallest KAN shape it reports with test RMSE < 1e-2.
    kan_rmse, mlp_rmse : Published, optional
        That KAN's test RMSE and the MLP's, where the study quotes them.
    """

    shape: tuple[int, ...]
    kan_rmse: Published | None = None
    mlp_rmse: Published | None = None
    source: Source = Source(KAN_PAPER, "§3.2, Table 1 (special functions)")


_SPECIAL_TABLE = Source(KAN_PAPER, "§3.2, Table 1 (special functions)")
SPECIAL: dict[str, SpecialFunction] = {
    "special/ellipj": SpecialFunction((2, 2, 1)),
    "special/kv": SpecialFunction((2, 1, 1)),
    "special/lpmv_m0": SpecialFunction(
        (2, 2, 1), Published(5.25e-5, "test RMSE", _SPECIAL_TABLE), Published(1.74e-2, "test RMSE", _SPECIAL_TABLE)
    ),
    "special/sph_harm_01": SpecialFunction((2, 1, 1), Published(2.21e-7, "test RMSE", _SPECIAL_TABLE)),
}
"""Dataset name -> the paper's minimal KAN shape (and RMSEs where quoted)."""

_KNOTS = Source(KAN_PAPER, "§4.3, Table 3 (signature classification)")
_KNOTS_TEXT = Source(KAN_PAPER, "§4.3, text")
KNOTS: dict[tuple[str, str], Published] = {
    ("KAN", "all"): Published(0.816, "test accuracy", _KNOTS, params=2e2, note="KAN [17,1,14], G = 3"),
    ("MLP", "all"): Published(0.780, "test accuracy", _KNOTS, params=3e5, note="DeepMind's MLP: 4 layers, width 300"),
    ("KAN", "mu_r,mu_i,lambda"): Published(0.782, "test accuracy", _KNOTS_TEXT, note="KAN [3,1,14]"),
    ("KAN", "mu_r"): Published(0.650, "test accuracy", _KNOTS_TEXT, note="the ablation beside Figure 4.3"),
}
"""(model, input set as :mod:`kansci.studies.knots` names it) -> test accuracy on DeepMind's knot data."""

_ANDERSON = Source(KAN_PAPER, "§4.4, Table 5 (mobility-edge formulas)")
ANDERSON: dict[str, dict[str, Published]] = {
    "gaam": {
        "formula": Published(0.990, "accuracy", _ANDERSON, note="KAN [4,2,1,1], formula found automatically"),
        "theory": Published(0.992, "accuracy", _ANDERSON),
    },
    "maam": {
        "formula": Published(0.971, "accuracy", _ANDERSON, note="formula found automatically"),
        "theory": Published(0.986, "accuracy", _ANDERSON),
    },
}
"""Model -> accuracy of the KAN's mobility-edge formula and of the theory's."""
