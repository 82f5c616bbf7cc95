"""The networks of one job: each model found (or downloaded) once, and loaded on first use.

A job asks for a network by its role (``superres``, ``denoise``, ``face``, ``colorize``: the
``recipe`` table's) and gets the ``LoadedModel`` of the model its options name; ``check`` finds
every model the job needs before its first stage, so a missing one fails at once, naming the option
that does without it. Thread-safe: a video's or a batch's workers share one.
"""

from __future__ import annotations

import threading

from .errors import ChecksumMismatchError, WeightsUnavailableError
from .models import LoadedModel, is_loaded, load_model, locate
from .options import RestoreOptions
from .recipe import needed_models, roles
from .weights import ResolvedWeights

TASKS = {"superres": "super-resolution", "colorize": "colorization", "face": "face-restoration",
         "denoise": "restoration"}


class JobModels:
    """The models of a job of ``options`` (see the module)."""

    def __init__(self, options: RestoreOptions) -> None:
        self.options = options
        self._models: dict[str, LoadedModel] = {}
        self._located: dict[str, ResolvedWeights] = {}
        self._lock = threading.Lock()

    def model_id(self, role: str) -> str:
        o = self.options
        return {"superres": o.model, "colorize": o.color_model, "face": o.face, "denoise": o.denoise_model}[role]

    @staticmethod
    def shown(model_id: str) -> str:
        """How a model is named to whoever runs the job: an added model by the file name it was added
        under (its owner's, ``uploads.original_name``), never by its stored name."""
        from .uploads import original_name

        return original_name(model_id) or model_id

    def located(self, model_id: str) -> ResolvedWeights:
        """Where the weights of ``model_id`` are (``models.locate``), found once per job."""
        with self._lock:
            found = self._located.get(model_id)
        if found is None:
            found = locate(model_id)
            with self._lock:
                self._located[model_id] = found
        return found

    def loaded(self, role: str) -> bool:
        """Whether the network of ``role`` is in memory (this job's, or the process's cache)."""
        with self._lock:
            if role in self._models:
                return True
        return is_loaded(self.model_id(role), self.options.device, self.options.precision,
                         self.located(self.model_id(role)))

    def model(self, role: str) -> LoadedModel:
        """The ``superres``, ``denoise``, ``face`` or ``colorize`` network, loaded on first use."""
        mid = self.model_id(role)
        weights = self.located(mid)
        with self._lock:
            if role not in self._models:
                self._models[role] = load_model(mid, self.options.device, self.options.precision, task=TASKS[role],
                                                weights=weights)
            return self._models[role]

    def check(self, monochrome: bool | None = None, more: list[tuple[str, str]] | tuple = ()) -> None:
        """Find (or download) the weights of every model the job needs (``recipe.needed_models``) before any work,
        and the (option, model) pairs of ``more`` (a video's interpolation model). Nothing is loaded. Raises
        ``WeightsUnavailableError`` or ``ChecksumMismatchError`` for the first model missing, with ``option`` set to
        the option whose model it is and ``missing`` listing every one the job lacks, and what ``models.locate``
        raises."""
        first: WeightsUnavailableError | ChecksumMismatchError | None = None
        missing: list[tuple[str, str]] = []
        for option, model_id in [*needed_models(self.options, monochrome), *more]:
            try:
                self.located(model_id)
            except (WeightsUnavailableError, ChecksumMismatchError) as e:
                e.option, e.model = option, model_id
                first = first or e
                missing.append((option, model_id))
        if first is not None:
            first.missing = tuple(missing)
            raise first

    def preload(self, monochrome: bool | None = None) -> None:
        """Find and load every network the job needs now (not at first use): what a ZeroGPU Space
        does before its GPU calls, so they spend no time on it."""
        self.check(monochrome)
        for role in roles(self.options, monochrome):
            self.model(role)
