"""bnn_models.io: JSON written sorted and indented, arrays of scalars on one line."""

from __future__ import annotations

import json
import math

from bnn_models.io import json_text, write_json


def test_scalar_arrays_on_one_line_and_the_document_unchanged(tmp_path):
    doc = {
        "pred_sd": [0.1, -2.5e-07, float("nan"), float("-inf"), None, True, 3],
        "nested": [[1, 2], [3]],
        "entries": [{"k": 1}],
        "names": ["a", "b"],
        "empty": [],
        "text": "[1,\n 2]",  # a string that looks like an array stays as written
    }
    text = json_text(doc)
    assert '"pred_sd": [0.1, -2.5e-07, NaN, -Infinity, null, true, 3]' in text
    assert '"nested": [\n    [1, 2],\n    [3]\n  ]' in text
    assert '"names": [\n    "a",\n    "b"\n  ]' in text  # strings keep one a line
    assert '"text": "[1,\\n 2]"' in text
    path = write_json(tmp_path / "x.json", doc)
    assert path.read_text() == text + "\n"
    back = json.loads(text)
    assert math.isnan(back["pred_sd"][2])
    back["pred_sd"][2] = doc["pred_sd"][2] = None
    assert back == doc
    # Smaller than one number a line: the indentation of long arrays is gone.
    long = {"values": [0.123456789] * 100}
    assert len(json_text(long)) < 0.8 * len(json.dumps(long, indent=2))
