"""The notebook client: ``from madoguchi.studio import connect``.

    studio = connect("https://madoguchi.city.example")     # passkey sign-in in the browser, once
    draft = studio.push("kodomo.yaml")                       # or a .ipynb, or YAML text + filename
    draft                                                    # check results, estimate vs 60 s, links
    draft.preview()                                          # the real app in a phone frame + QR code
    draft.diff(); draft.scenarios(); draft.validate({...})
    draft.request_publish()                                  # -> the approval URL (a person approves)

docs/configuring.md "Signing in from a notebook or a script"; docs/security.md for the tokens.
"""

from madoguchi.studio.client import Draft, Studio, connect
from madoguchi.studio.errors import StudioError

__all__ = ["Draft", "Studio", "StudioError", "connect"]
