"""Abstraction level of a concept from its name (for imported boundaries).

Probed concepts take their level from the predictor (``Predictor.score_levels``); imported
boundaries carry only a name (and sometimes HiGAN's ``meta_data['type']``). The rule, in
order:

1. HiGAN's ``meta_data['type']``: ``layout`` -> layout; ``category``/``object``/``objects``
   -> objects; ``attribute``/``attributes`` -> attributes; ``color``/``colour`` -> color.
2. The name, normalized (lower case; runs of non-alphanumerics -> ``_``), matched against
   this table — whole name first, then each ``_``-separated word:

=========== =====================================================================
level       names / words
=========== =====================================================================
layout      view, layout, yaw, pitch, roll, camera, viewpoint, perspective,
            vanishing_point, horizon_height, zoom, room_depth, room_width
color       color, colour, hue, saturation, palette, tint, tone, color_scheme,
            wall_hue, floor_tone, furniture_palette
objects     scene categories and furniture: bedroom, living_room, livingroom,
            kitchen, dining_room, diningroom, bathroom, church, tower, bridge,
            bed, sofa, couch, chair, table, lamp, tv, television, window, door,
            painting, shelf, cabinet, fridge, counter, nightstand, furniture,
            category, object
attributes  the SUN attribute vocabulary HiGAN probes (102 names, e.g. clouds,
            sunny, vegetation, wood, carpet, glossy, indoor_lighting,
            natural_light, cluttered_space, far-away_horizon, touring, ...)
=========== =====================================================================

3. Otherwise ``unknown``.

Whole-name matches take precedence over word matches, so ``natural_light`` is an attribute
even though ``light`` alone is not listed, and ``wall_hue`` is a color concept.
"""

from __future__ import annotations

import re

_TYPE_TO_LEVEL = {
    "layout": "layout",
    "category": "objects",
    "object": "objects",
    "objects": "objects",
    "attribute": "attributes",
    "attributes": "attributes",
    "color": "color",
    "colour": "color",
    "color_scheme": "color",
}

_LAYOUT = {
    "view",
    "layout",
    "yaw",
    "pitch",
    "roll",
    "camera",
    "viewpoint",
    "perspective",
    "vanishing_point",
    "horizon_height",
    "zoom",
    "room_depth",
    "room_width",
}
_COLOR = {
    "color",
    "colour",
    "hue",
    "saturation",
    "palette",
    "tint",
    "tone",
    "color_scheme",
    "colour_scheme",
    "wall_hue",
    "floor_tone",
    "furniture_palette",
}
_OBJECTS = {
    "bedroom",
    "living_room",
    "livingroom",
    "kitchen",
    "dining_room",
    "diningroom",
    "bathroom",
    "church",
    "church_outdoor",
    "tower",
    "bridge",
    "bed",
    "sofa",
    "couch",
    "chair",
    "table",
    "lamp",
    "tv",
    "television",
    "window",
    "door",
    "painting",
    "shelf",
    "cabinet",
    "fridge",
    "counter",
    "nightstand",
    "furniture",
    "category",
    "object",
}
# The SUN attributes (Patterson & Hays) in the spellings of Places365's
# labels_sunattribute.txt and HiGAN's boundary names, normalized.
_SUN_ATTRIBUTES = {
    "sailing_boating",
    "boating",
    "driving",
    "biking",
    "transporting_things_or_people",
    "transporting",
    "sunbathing",
    "vacationing_touring",
    "touring",
    "vacationing",
    "hiking",
    "climbing",
    "camping",
    "reading",
    "studying_learning",
    "studying",
    "teaching_training",
    "teaching",
    "research",
    "diving",
    "swimming",
    "bathing",
    "eating",
    "cleaning",
    "socializing",
    "congregating",
    "waiting_in_line_queuing",
    "queuing",
    "competing",
    "sports",
    "exercise",
    "playing",
    "gaming",
    "spectating_being_in_an_audience",
    "spectating",
    "farming",
    "constructing_building",
    "constructing",
    "shopping",
    "medical_activity",
    "working",
    "using_tools",
    "digging",
    "conducting_business",
    "praying",
    "fencing",
    "railing",
    "wire",
    "railroad",
    "trees",
    "grass",
    "vegetation",
    "shrubbery",
    "foliage",
    "leaves",
    "flowers",
    "asphalt",
    "pavement",
    "shingles",
    "carpet",
    "brick",
    "tiles",
    "concrete",
    "metal",
    "paper",
    "wood",
    "wood_not_part_of_a_tree",
    "vinyl_linoleum",
    "vinyl",
    "rubber_plastic",
    "plastic",
    "cloth",
    "sand",
    "rock_stone",
    "rock",
    "stone",
    "dirt_soil",
    "dirt",
    "soil",
    "marble",
    "glass",
    "waves_surf",
    "waves",
    "ocean",
    "running_water",
    "still_water",
    "ice",
    "snow",
    "clouds",
    "smoke",
    "fire",
    "natural_light",
    "direct_sun_sunny",
    "sunny",
    "electric_indoor_lighting",
    "indoor_lighting",
    "aged_worn",
    "aged",
    "worn",
    "glossy",
    "matte",
    "sterile",
    "moist_damp",
    "moist",
    "damp",
    "dry",
    "dirty",
    "rusty",
    "warm",
    "cold",
    "natural",
    "man_made",
    "open_area",
    "semi_enclosed_area",
    "enclosed_area",
    "far_away_horizon",
    "no_horizon",
    "rugged_scene",
    "mostly_vertical_components",
    "vertical_components",
    "mostly_horizontal_components",
    "horizontal_components",
    "symmetrical",
    "cluttered_space",
    "clutter",
    "scary",
    "soothing",
    "stressful",
}

_TABLE = (("layout", _LAYOUT), ("color", _COLOR), ("objects", _OBJECTS), ("attributes", _SUN_ATTRIBUTES))


def normalize_name(name: str) -> str:
    """Lower case; runs of characters other than letters and digits become ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def infer_level(name: str, type_hint: str | None = None) -> str:
    """The level (``layout``/``objects``/``attributes``/``color``/``unknown``) of ``name``."""
    if type_hint:
        hinted = _TYPE_TO_LEVEL.get(normalize_name(str(type_hint)))
        if hinted:
            return hinted
    normalized = normalize_name(name)
    for level, names in _TABLE:
        if normalized in names:
            return level
    words = normalized.split("_")
    for level, names in _TABLE:
        if any(word in names for word in words):
            return level
    return "unknown"
