"""Panels that read well without a kernel: displayed as ``panel``, one output holds the live
widget and a PNG of its state, which a saved notebook shows where widgets cannot render."""

from __future__ import annotations

import base64


class SnapshotDisplay:
    """Mixin: ``self.widget`` is the live box; :meth:`snapshot_png` a picture of its state."""

    widget: object

    def snapshot_png(self) -> bytes:
        """PNG bytes of what the panel shows now (subclasses return their figure)."""
        raise NotImplementedError

    def _repr_mimebundle_(self, include=None, exclude=None):  # noqa: ANN001 (IPython's hook)
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)  # type: ignore[attr-defined]
        data, meta = bundle if isinstance(bundle, tuple) else (bundle, {})
        png = self.snapshot_png()
        if png:
            data = dict(data)
            data["image/png"] = base64.b64encode(png).decode("ascii")
            data["text/plain"] = (
                f"{type(self).__name__} (a picture of its state; run the cell for the live panel)"
            )
        return data, meta
