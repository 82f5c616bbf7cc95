"""The model catalogue: what each model id is, where its weights come from, what it supports.

Specs are data, not code paths: adding a model is adding one ``ModelSpec`` to ``_BUILTIN`` (or calling
``register`` from a plugin). Registering an id twice is an error.
"""

from __future__ import annotations

import threading

from .errors import OptionError, UnknownModelError
from .spec import ModelSpec, Task

# Commit of leonelhs/realesrgan that public code pins; it holds the x2plus and general-x4v3 files.
_LEONELHS_REV = "6907f85a9095e201ec4b3c7e91bbb66cdec0f04d"


_BUILTIN: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="realesrgan-x4plus",
        task="super-resolution",
        architecture="ESRGAN",
        scale=4,
        hub_repo="lllyasviel/Annotators",
        filename="RealESRGAN_x4plus.pth",
        revision=None,
        sha256="4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
        size_bytes=67_040_989,
        license="BSD-3-Clause",
        supports_half=True,
        supports_bf16=True,
        source="xinntao/Real-ESRGAN release v0.1.0, mirrored in the Hub repo lllyasviel/Annotators",
        description="Real-ESRGAN x4plus (RRDBNet, 23 blocks): the general-purpose photo upscaler.",
        tile=512,
    ),
    ModelSpec(
        id="realesrgan-x2plus",
        task="super-resolution",
        architecture="ESRGAN",
        scale=2,
        hub_repo="leonelhs/realesrgan",
        filename="RealESRGAN_x2plus.pth",
        revision=_LEONELHS_REV,
        sha256="49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb",
        size_bytes=67_061_725,
        license="BSD-3-Clause",
        supports_half=True,
        supports_bf16=True,
        source="xinntao/Real-ESRGAN release v0.2.1, mirrored in leonelhs/realesrgan (pinned commit)",
        description="Real-ESRGAN x2plus (RRDBNet, 23 blocks): photos at x2, fewer invented details.",
        tile=512,
    ),
    ModelSpec(
        id="realesr-general-x4v3",
        task="super-resolution",
        architecture="Compact",
        scale=4,
        hub_repo="leonelhs/realesrgan",
        filename="realesr-general-x4v3.pth",
        revision=_LEONELHS_REV,
        sha256="8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292",
        size_bytes=4_885_111,
        license="BSD-3-Clause",
        supports_half=True,
        supports_bf16=True,
        source="xinntao/Real-ESRGAN release v0.2.5.0, mirrored in leonelhs/realesrgan (pinned commit)",
        description="Real-ESRGAN general v3 (SRVGGNetCompact): small and fast, good for video.",
        tile=1024,
    ),
    ModelSpec(
        id="realesrgan-x4plus-anime",
        task="super-resolution",
        architecture="ESRGAN",
        scale=4,
        hub_repo="ximso/RealESRGAN_x4plus_anime_6B",
        filename="RealESRGAN_x4plus_anime_6B.pth",
        revision=None,
        sha256="f872d837d3c90ed2e05227bed711af5671a6fd1c9f7d7e91c911a61f155e99da",
        license="BSD-3-Clause",
        supports_half=True,
        supports_bf16=True,
        source="xinntao/Real-ESRGAN release v0.2.2.4, mirrored in ximso/RealESRGAN_x4plus_anime_6B",
        description="Real-ESRGAN x4plus anime (RRDBNet, 6 blocks): drawings, anime and line art.",
        tile=512,
    ),
    ModelSpec(
        id="realesr-animevideov3",
        task="super-resolution",
        architecture="Compact",
        scale=4,
        hub_repo="leonelhs/realesrgan",
        filename="realesr-animevideov3.pth",
        revision=_LEONELHS_REV,
        sha256="b8a8376811077954d82ca3fcf476f1ac3da3e8a68a4f4d71363008000a18b75d",
        license="BSD-3-Clause",
        supports_half=True,
        supports_bf16=True,
        source=(
            "xinntao/Real-ESRGAN release v0.2.5.0; the Hub mirror is unconfirmed (checksum-guarded),"
            " put the release file in $RESTORATION_MODELS_DIR if the download fails"
        ),
        description="Real-ESRGAN anime video v3 (SRVGGNetCompact, 16 convs): fast anime video upscaler.",
        tile=1024,
    ),
    ModelSpec(
        id="ddcolor",
        task="colorization",
        architecture="DDColor",
        scale=1,
        hub_repo="piddnad/DDColor-models",
        filename="ddcolor_modelscope.pth",
        revision=None,
        sha256=None,
        license="Apache-2.0",
        supports_half=False,
        supports_bf16=True,
        source="piddnad/DDColor-models (ModelScope realistic DDColor-L); hash recorded on first download",
        description="DDColor-L (ConvNeXt-L), ModelScope weights: natural, realistic colours.",
        tile=0,
        input_size=512,
    ),
    ModelSpec(
        id="ddcolor-artistic",
        task="colorization",
        architecture="DDColor",
        scale=1,
        hub_repo="piddnad/DDColor-models",
        filename="ddcolor_artistic.pth",
        revision=None,
        sha256=None,
        license="Apache-2.0",
        supports_half=False,
        supports_bf16=True,
        source="piddnad/DDColor-models (artistic DDColor-L); hash recorded on first download",
        description="DDColor-L trained for vivid, saturated colours.",
        tile=0,
        input_size=512,
    ),
    ModelSpec(
        id="ddcolor-tiny",
        task="colorization",
        architecture="DDColor",
        scale=1,
        hub_repo="piddnad/DDColor-models",
        filename="ddcolor_paper_tiny.pth",
        revision=None,
        sha256=None,
        license="Apache-2.0",
        supports_half=False,
        supports_bf16=True,
        source="piddnad/DDColor-models (paper DDColor-T, ConvNeXt-T); hash recorded on first download",
        description="DDColor-T: the small, fast colorizer from the paper.",
        tile=0,
        input_size=512,
    ),
)

_FACES: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="gfpgan-v1.4",
        task="face-restoration",
        architecture="GFPGAN",
        scale=1,
        hub_repo="hacksider/deep-live-cam",
        filename="GFPGANv1.4.pth",
        revision=None,
        sha256="e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad",
        size_bytes=348_632_874,
        license="Apache-2.0",
        supports_half=False,
        supports_bf16=True,
        source="TencentARC/GFPGAN release v1.3.4, mirrored in hacksider/deep-live-cam (checksum-pinned)",
        description="GFPGAN v1.4: the default face restorer; natural faces, keeps identity well.",
        tile=0,
        input_size=512,
    ),
    ModelSpec(
        id="restoreformer",
        task="face-restoration",
        architecture="RestoreFormer",
        scale=1,
        hub_repo="martintomov/comfy",
        filename="facerestore_models/RestoreFormer.pth",
        revision=None,
        sha256="07404d446d62ca3d5ed38b1de09a947a1e77d46dbccec961a74d713a8f24ace0",
        size_bytes=290_785_322,
        license="Apache-2.0",
        supports_half=False,
        supports_bf16=True,
        source="TencentARC/GFPGAN release v1.3.4 (RestoreFormer conversion), mirrored in martintomov/comfy",
        description="RestoreFormer: sharper detail than GFPGAN on heavily degraded faces.",
        tile=0,
        input_size=512,
    ),
    ModelSpec(
        id="codeformer",
        task="face-restoration",
        architecture="CodeFormer",
        scale=1,
        hub_repo="fofr/comfyui",
        filename="facerestore_models/codeformer.pth",
        revision=None,
        sha256="1009e537e0c2a07d4cabce6355f53cb66767cd4b4297ec7a4a64ca4b8a5684b7",
        size_bytes=376_637_898,
        license="NTU S-Lab License 1.0 (non-commercial use only)",
        supports_half=False,
        supports_bf16=True,
        source="sczhou/CodeFormer release v0.1.0, mirrored in fofr/comfyui (checksum-pinned)",
        description="CodeFormer: face fidelity adjustable from restored (0) to faithful (1). Non-commercial.",
        tile=0,
        input_size=512,
        commercial_use=False,
    ),
    ModelSpec(
        id="yunet",
        task="face-detection",
        architecture="YuNet",
        scale=1,
        hub_repo="opencv/opencv_zoo",
        filename="models/face_detection_yunet/face_detection_yunet_2026may.onnx",
        revision=None,
        sha256="ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0",
        size_bytes=229_738,
        license="MIT",
        supports_half=False,
        supports_bf16=False,
        source="opencv/opencv_zoo (YuNet, 2026may: the version OpenCV 5 reads)",
        description="YuNet face detector (OpenCV): boxes and five landmarks, faces of about 10-300 px.",
        tile=0,
    ),
    ModelSpec(
        id="face-parsing",
        task="face-parsing",
        architecture="SegFormer",
        scale=1,
        hub_repo="jonathandinu/face-parsing",
        filename="model.safetensors",
        revision=None,
        sha256=None,
        license="CC0-1.0 (model card); trained on CelebAMask-HQ, a data set for non-commercial research",
        supports_half=False,
        supports_bf16=True,
        source="jonathandinu/face-parsing (SegFormer, 19 CelebAMask-HQ labels); hash recorded on first download",
        description="Face parsing (SegFormer): skin, eyes, brows, nose and lips, so hair, ears and neck "
                    "are never pasted.",
        tile=0,
        input_size=512,
        companions=("config.json",),
    ),
)

_DENOISERS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="drunet-color",
        task="restoration",
        architecture="DRUNet",
        scale=1,
        hub_repo="deepinv/drunet",
        filename="drunet_color.pth",
        revision=None,
        sha256=None,
        license="MIT (KAIR)",
        supports_half=True,
        supports_bf16=True,
        source="cszn/KAIR release v1.0, mirrored in deepinv/drunet; hash recorded on first download",
        description="DRUNet: Gaussian-noise denoiser conditioned on the noise level (the denoise strength).",
        tile=512,
    ),
    ModelSpec(
        id="scunet-real",
        task="restoration",
        architecture="SCUNet",
        scale=1,
        hub_repo="deepinv/scunet",
        filename="scunet_color_real_psnr.pth",
        revision=None,
        sha256=None,
        sha256_prefix="fa78899ba2caec9d",
        license="Apache-2.0 (KAIR)",
        supports_half=True,
        supports_bf16=True,
        source="cszn/KAIR release v1.0, mirrored in deepinv/scunet; hash recorded on first download",
        description="SCUNet (real, PSNR): blind denoiser for real-world noise and compression.",
        tile=0,
    ),
)

_INTERPOLATORS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="rife-4.26",
        task="interpolation",
        architecture="RIFE",
        scale=1,
        hub_repo="Bash2X/RIFE-Models",
        filename="RIFE_v4.26.zip",
        revision="feaf6d11238b4a1e9f015a5d18c18df152affd20",
        sha256=None,
        member="train_log/flownet.pkl",
        license="MIT (Practical-RIFE)",
        supports_half=True,
        supports_bf16=True,
        source="hzwer/Practical-RIFE 4.26 (2024-09-21; its own downloads are Google Drive and Baidu only): the "
               "train_log archive as mirrored in Bash2X/RIFE-Models at a pinned revision; only flownet.pkl is "
               "read from it; hash recorded on first download",
        description="RIFE 4.26 (IFNet, 5 blocks): the frames between two frames, for smoother motion "
                    "and higher frame rates.",
        tile=0,
    ),
)

_lock = threading.Lock()
_registry: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the catalogue. Raises ``ValueError`` if its id is already registered."""
    if not spec.id or spec.id != spec.id.strip().lower():
        raise OptionError(f"model id {spec.id!r} must be non-empty, lower-case and without spaces")
    with _lock:
        if spec.id in _registry:
            raise ValueError(f"model id {spec.id!r} is already registered")
        _registry[spec.id] = spec
    return spec


for _spec in (*_BUILTIN, *_FACES, *_DENOISERS, *_INTERPOLATORS):
    register(_spec)


def get_spec(model_id: str, task: Task | None = None) -> ModelSpec:
    """The spec of ``model_id``. Raises ``UnknownModelError`` when it is not there, listing the known
    ids (those of ``task`` when it is given: the models that would fit where this one was asked for)."""
    try:
        return _registry[model_id]
    except KeyError:
        known = ", ".join(model_ids(task)) if task else ", ".join(sorted(_registry))
        raise UnknownModelError(f"unknown model {model_id!r}; known {f'{task} ' if task else ''}models: "
                                f"{known}") from None


def list_models(task: Task | None = None) -> list[ModelSpec]:
    """Every registered spec (optionally only those of ``task``), sorted by id."""
    return sorted(
        (s for s in _registry.values() if task is None or s.task == task), key=lambda s: s.id
    )


def model_ids(task: Task | None = None) -> list[str]:
    return [s.id for s in list_models(task)]


# The option that takes each kind of model: the one table of it (menus, messages, a job's models).
MODEL_OPTIONS: dict[str, Task] = {"model": "super-resolution", "denoise_model": "restoration",
                                  "face": "face-restoration", "color_model": "colorization"}
_OPTION_NAMES = {"model": "model (the upscaler)"}  # how messages name an option, where it needs a word more


def option_for(task: str) -> str | None:
    """The option that takes a model of ``task`` ("model" for super-resolution...), or None."""
    return next((o for o, t in MODEL_OPTIONS.items() if t == task), None)


def wrong_kind(what: str, kind: str, needed: str, detail: str = "") -> OptionError:
    """The error for a ``kind`` model given where a ``needed`` one goes, saying where it belongs:
    "x.pth is a restoration model (SCUNet x1), and model needs a super-resolution model: use it as
    denoise_model"."""
    option, where = option_for(needed) or needed, option_for(kind)
    hint = f": use it as {_OPTION_NAMES.get(where, where)}" if where else ": no option here takes one"
    return OptionError(f"{what} is a {kind} model{detail}, and {option} needs a {needed} model{hint}")
