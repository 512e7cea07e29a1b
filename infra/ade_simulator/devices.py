"""A device as Apple's device-assignment API describes it, made from a control request's entry.

A test says little (`serial_number`, `device_family`, maybe `model`); the rest
is filled with what Apple would send for that family. An entry may also set
any of Apple's device fields itself (an `asset_tag`, a `profile_status`).
Devices are immutable tuples: a sync event keeps the device as it was when
the event happened, at the cost of one reference.
"""

from __future__ import annotations

from typing import NamedTuple

# Per device_family: model, description, color, os. Apple's os values: iOS, iPadOS, OSX, tvOS, visionOS.
FAMILIES = {
    "iPhone": ("iPhone 15", "IPHONE 15 128GB BLACK", "BLACK", "iOS"),
    "iPad": ("iPad Air", "IPAD AIR WI-FI 256GB SPACE GRAY", "SPACE GRAY", "iPadOS"),
    "iPod": ("iPod touch", "IPOD TOUCH 32GB SILVER", "SILVER", "iOS"),
    "Mac": ("MacBook Air", "MBA 13.6 M3 16GB 512GB MIDNIGHT", "MIDNIGHT", "OSX"),
    "AppleTV": ("Apple TV 4K", "APPLE TV 4K WI-FI 64GB", "BLACK", "tvOS"),
    "Vision": ("Apple Vision Pro", "APPLE VISION PRO 256GB", "SILVER", "visionOS"),
    "Watch": ("Apple Watch Series 9", "APPLE WATCH S9 GPS 45MM MIDNIGHT", "MIDNIGHT", "watchOS"),
}


class Device(NamedTuple):
    serial_number: str
    model: str
    description: str
    color: str
    asset_tag: str
    os: str
    device_family: str
    profile_status: str
    profile_uuid: str
    profile_assign_time: str
    profile_push_time: str
    device_assigned_date: str
    device_assigned_by: str
    # The server's assignment number: a fetch pages in this order.
    seq: int


FIELDS = Device._fields[:-1]
# Sent only when set, as Apple does (a device with no profile has no profile_uuid).
OPTIONAL = frozenset({"asset_tag", "profile_uuid", "profile_assign_time", "profile_push_time"})
OVERRIDABLE = frozenset(FIELDS) - {"serial_number", "device_family", "device_assigned_date", "device_assigned_by"}


def make(entry: dict, assigned_date: str, assigned_by: str, seq: int, previous: Device | None = None) -> Device:
    """The device an entry describes. `previous`: the device as the server has it
    (modified keeps what the entry does not change)."""
    family = entry.get("device_family") or (previous.device_family if previous else "")
    if previous is not None and family == previous.device_family and "model" not in entry:
        base = previous._replace(seq=seq)
    else:
        model, description, color, os = FAMILIES.get(family) or (family, family.upper(), "", "")
        if "model" in entry:
            model = entry["model"]
            description = model.upper()
        # Positional: a control request makes 100,000 of these.
        base = Device(
            entry["serial_number"], model, description, color, "", os, family,
            "empty", "", "", "", assigned_date, assigned_by, seq,
        )
    # serial_number, device_family and op: anything more sets a field.
    if len(entry) > 3 or "device_family" not in entry:
        overrides = {k: entry[k] for k in OVERRIDABLE if k in entry}
        if overrides:
            return base._replace(**overrides)
    return base


def to_json(device: Device, op_type: str | None = None, op_date: str | None = None) -> dict:
    out = dict(zip(FIELDS, device))
    for name in OPTIONAL:
        if not out[name]:
            del out[name]
    if op_type is not None:
        out["op_type"] = op_type
        out["op_date"] = op_date
    return out
