"""The official scene models of the paper, under HiGAN's names.

Each :class:`ModelEntry` lists its file(s) with the addresses they were published at, the size
and SHA-256 where a publisher states them (none of these releases does: the first download's
SHA-256 is recorded and later copies must match it, see :mod:`.store`), the resolution, and
the official HiGAN boundary set that goes with it (``boundaries/higan/<set>.safetensors``).

Sources: NVIDIA's releases (PGGAN: tkarras/progressive_growing_of_gans, Google Drive, as
linked from genforce/higan ``models/README.md``; StyleGAN: NVlabs/stylegan, Google Drive;
StyleGAN2: NVlabs/stylegan2, ``nvlabs-fi-cdn.nvidia.com``), the StyleGAN scene models genforce
trained for HiGAN (SharePoint links in genforce/higan ``models/README.md``; file names from its
``models/model_settings.py``) and pytorch-pretrained-biggan's BigGAN-deep (Amazon S3).
Google Drive and SharePoint links open a web page rather than the file: download those in a
browser and hand the file over with ``sceneedit models fetch NAME --from FILE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelFile:
    """One file of a model: the name it is stored under, where it was published, and (when
    a publisher states them) its size in bytes and SHA-256 hex digest."""

    name: str
    urls: tuple[str, ...]
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class ModelEntry:
    """A model of the registry. ``files`` (one, or a weights file plus its config) are stored
    together in the model's cache folder; ``boundaries`` names its official HiGAN set."""

    name: str
    arch: str
    dataset: str
    resolution: int
    files: tuple[ModelFile, ...]
    boundaries: str | None = None
    note: str = ""
    aliases: tuple[str, ...] = field(default=())
    user_added: bool = False


def _gdrive(file_id: str) -> str:
    return f"https://drive.google.com/uc?export=download&id={file_id}"


_PGGAN_DRIVE = {  # genforce/higan models/README.md "PGGAN Official"
    "bedroom": ("bedroom", "1xbb2xakSn22lZoUcdaydQaBHoBSiUt6T"),
    "livingroom": ("livingroom", "1yhg7u-OqU8fYQ1A2GaMFwHg_bwKwmszF"),
    "diningroom": ("dining_room", "1yQRvnMsiMI5mksNkxtdnjJfZyY0W93i-"),
    "kitchen": ("kitchen", "1ycfRWFtiTl7EzELDQ9IArDnMAxBaGXcj"),
    "churchoutdoor": ("churchoutdoor", "1yGlooC5u4KuiOMzuJiA1W-MW4WB-wqnf"),
    "tower": ("tower", "1z8gUcWvUxtAjKhCzr88BO62NFBLYQ32G"),
    "bridge": ("bridge", "1xf1SVhs52o93o_JhnPE2h6mZAM6YkI7t"),
    "restaurant": ("restaurant", "1yobti3l5kyeZxT-XJOAwnwRY7K_cdroY"),
    "classroom": ("classroom", "1yJHhYysvxE4gVfYB56XVT_M4uea9DjpU"),
    "conferenceroom": ("conferenceroom", "1yLZ2YJ1ajh-amUJMpOmFHL9P3810xdqk"),
}

_HIGAN_SHAREPOINT = "https://mycuhk-my.sharepoint.com/:u:/g/personal/1155082926_link_cuhk_edu_hk/"
_STYLEGAN_OURS = {  # genforce/higan models/README.md "StyleGAN Ours" + model_settings.py file names
    "livingroom": ("stylegan-livingroom-256x256-030000.pkl", "EW3M1ZzNc4REgBuFMD1soLgBQCteWBZdJsH7eCcRfJ-P-Q?e=LyfLj7"),
    "diningroom": ("stylegan-diningroom-256x256-025000.pkl", "EaZ1XWbU4KNKkD9SBUqtMXcBCq6ywjyeq-_OQ8sCUR6rzQ?e=rjOTcA"),
    "kitchen": ("stylegan-kitchen-256x256-030000.pkl", "EZ-3iOBSeqtKlIHWfOC4_-0BfzYwNHPNNYNVho2lkqm_Rw?e=TBAxAS"),
    "apartment": ("stylegan-apartment-256x256-060000.pkl", "EWvK04bleE1DrNO_GbtY4BsBZtqzSWJZ_VtxMkSJiK4QTg?e=WG74Jg"),
    "churchoutdoor": (
        "stylegan-churchoutdoor-256x256-030000.pkl",
        "EcfDRkV7ncNJhJTsfbrli0MBnEPQXJeyNZ2FzS6XeAzKxA?e=Woibfx",
    ),
    "tower": ("stylegan-tower-256x256-030000.pkl", "EXU65vZbVF5JhdqKWg8x7FkBXp8DCwdqPA26IkSiiKtLqw?e=nEkOQa"),
    "bridge": ("stylegan-bridge-256x256-025000.pkl", "EWyzlQIgxNxOrcOkzb_GewkBqH5GTfKiMV1B27z5QJIJrw?e=6kgyan"),
    "restaurant": ("stylegan-restaurant-256x256-050000.pkl", "EZdxja8kJ8hFgVi4iCKApuoBRJ9HKUdNF53giR9D61V5jQ?e=8B1kLn"),
    "classroom": ("stylegan-classroom-256x256-050000.pkl", "EfgXckBHSfZHsf_FUBXAsl8Btt6X0SRr1O8-FqyNbIaXRw?e=yZ5z8q"),
    "conferenceroom": (
        "stylegan-conferenceroom-256x256-050000.pkl",
        "EeOwgtZORopBibIOI022TYIBv1YPVpGy0FLM386olADZOg?e=hzaZzZ",
    ),
}
#: HiGAN boundary sets (boundaries/higan/<set>.safetensors) per model name.
_BOUNDARY_SETS = {
    "stylegan_bedroom",
    "stylegan_livingroom",
    "stylegan_kitchen",
    "stylegan_churchoutdoor",
    "stylegan_tower",
    "stylegan_bridge",
    "stylegan2_church",
}
_BIGGAN_S3 = "https://s3.amazonaws.com/models.huggingface.co/biggan/"


def _official() -> tuple[ModelEntry, ...]:
    entries: list[ModelEntry] = []
    for scene, (lsun, file_id) in _PGGAN_DRIVE.items():
        entries.append(
            ModelEntry(
                name=f"pggan_{scene}",
                arch="pggan",
                dataset=f"LSUN {scene}",
                resolution=256,
                files=(ModelFile(f"karras2018iclr-lsun-{lsun}-256x256.pkl", (_gdrive(file_id),)),),
                note="NVIDIA PGGAN release (TensorFlow pickle); Google Drive may need a browser",
            )
        )
    entries.append(
        ModelEntry(
            name="stylegan_bedroom",
            arch="stylegan",
            dataset="LSUN bedroom",
            resolution=256,
            files=(
                ModelFile("karras2019stylegan-bedrooms-256x256.pkl", (_gdrive("1MOSKeGF0FJcivpBI7s63V9YHloUTORiF"),)),
            ),
            boundaries="stylegan_bedroom",
            note="NVIDIA StyleGAN release (TensorFlow pickle); Google Drive may need a browser",
        )
    )
    for scene, (filename, link) in _STYLEGAN_OURS.items():
        name = f"stylegan_{scene}"
        entries.append(
            ModelEntry(
                name=name,
                arch="stylegan",
                dataset=f"LSUN {scene}",
                resolution=256,
                files=(ModelFile(filename, (_HIGAN_SHAREPOINT + link,)),),
                boundaries=name if name in _BOUNDARY_SETS else None,
                aliases=("stylegan_church",) if scene == "churchoutdoor" else (),
                note="trained by genforce for HiGAN (TensorFlow pickle); SharePoint needs a browser",
            )
        )
    entries.append(
        ModelEntry(
            name="stylegan2_church",
            arch="stylegan2",
            dataset="LSUN church",
            resolution=256,
            files=(
                ModelFile(
                    "stylegan2-church-config-f.pkl",
                    (
                        "https://nvlabs-fi-cdn.nvidia.com/stylegan2/networks/stylegan2-church-config-f.pkl",
                        "http://d36zk2xti64re0.cloudfront.net/stylegan2/networks/stylegan2-church-config-f.pkl",
                    ),
                ),
            ),
            boundaries="stylegan2_church",
            note="NVIDIA StyleGAN2 release, config F (TensorFlow pickle)",
        )
    )
    for size in (128, 256, 512):
        entries.append(
            ModelEntry(
                name=f"biggan_deep_{size}",
                arch="biggan",
                dataset="ImageNet",
                resolution=size,
                files=(
                    ModelFile("pytorch_model.bin", (f"{_BIGGAN_S3}biggan-deep-{size}-pytorch_model.bin",)),
                    ModelFile("config.json", (f"{_BIGGAN_S3}biggan-deep-{size}-config.json",)),
                ),
                aliases=(f"biggan-deep-{size}",),
                note="pytorch-pretrained-biggan (DeepMind's BigGAN-deep, converted by Hugging Face)",
            )
        )
    return tuple(entries)


OFFICIAL_MODELS: tuple[ModelEntry, ...] = _official()
