"""Small, valid media files for the demo: the simulator announces them, the fake Graph API serves them.

Each decodes in a browser: a 320x240 JPEG photo, a PNG receipt, a 512x512 WebP sticker (the size
WhatsApp stickers have), a 2.5 s Ogg/Opus voice note, a 2 s MP3, a 2 s H.264 MP4 and a one-page PDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files


@dataclass(frozen=True, slots=True)
class MediaSample:
    name: str
    mime_type: str

    @property
    def data(self) -> bytes:
        return read_sample(self.name)


PHOTO = MediaSample("photo.jpg", "image/jpeg")
RECEIPT = MediaSample("receipt.png", "image/png")
STICKER = MediaSample("sticker.webp", "image/webp")
# Meta announces voice notes with the codec named in the type.
VOICE_NOTE = MediaSample("voice.ogg", "audio/ogg; codecs=opus")
SONG = MediaSample("song.mp3", "audio/mpeg")
CLIP = MediaSample("clip.mp4", "video/mp4")
INVOICE = MediaSample("invoice.pdf", "application/pdf")
ALL = (PHOTO, RECEIPT, STICKER, VOICE_NOTE, SONG, CLIP, INVOICE)


@cache
def read_sample(name: str) -> bytes:
    """The bytes of one bundled file (read once per process)."""
    return files(__package__).joinpath(name).read_bytes()
