"""The demo's media files are what their types say (the browser test decodes them; this checks the
containers without a browser)."""

from __future__ import annotations

import struct

import pytest

from webhook import media_samples
from webhook.media_samples import MediaSample

# Leading bytes of each container, and a marker inside it that only a complete file of its kind has.
SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff", b"\xff\xd9"),
    "image/png": (b"\x89PNG\r\n\x1a\n", b"IEND"),
    "image/webp": (b"RIFF", b"WEBPVP8"),
    "audio/ogg; codecs=opus": (b"OggS", b"OpusHead"),
    "audio/mpeg": (b"ID3", b"\xff"),
    "video/mp4": (b"\x00\x00\x00", b"avc1"),
    "application/pdf": (b"%PDF-1.", b"%%EOF"),
}


@pytest.mark.parametrize("sample", media_samples.ALL, ids=lambda s: s.name)
def test_media_sample_is_a_complete_small_file_of_its_type(sample: MediaSample) -> None:
    head, marker = SIGNATURES[sample.mime_type]
    assert sample.data.startswith(head)
    assert marker in sample.data
    assert 0 < len(sample.data) < 16 * 1024


def test_media_sample_sticker_is_512_square_as_whatsapp_stickers_are() -> None:
    data = media_samples.STICKER.data
    assert data[8:12] == b"WEBP"
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended format: 24-bit width and height minus one
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
    else:  # simple lossy: the frame header's 14-bit sizes
        width, height = (value & 0x3FFF for value in struct.unpack("<HH", data[26:30]))
    assert (width, height) == (512, 512)
