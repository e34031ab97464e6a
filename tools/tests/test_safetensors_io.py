"""safetensors_io: round trips in every float dtype, header validation, shards,
and the committed loader fixture."""

import json
import os
import struct
import tempfile
import unittest

import numpy as np
import torch

from tests.common import FIXTURES
from reverie_ref import safetensors_io as st


class RoundTrip(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "t.safetensors")

    def tearDown(self):
        self.dir.cleanup()

    def test_dtypes_round_trip(self):
        x = torch.randn(3, 5)
        tensors = {"b": x, "a": x.half(), "c": x.bfloat16(), "i": torch.arange(4), "s": torch.tensor(2.5)}
        st.save(self.path, tensors)
        back = st.load_torch(self.path)
        for k, v in tensors.items():
            self.assertEqual(back[k].dtype, v.dtype, k)
            self.assertTrue(torch.equal(back[k], v), k)
        header, meta, start = st.read_header(self.path)
        self.assertEqual(meta, {"format": "pt"})
        self.assertEqual(start % 8, 0)
        self.assertEqual(header["c"]["dtype"], "BF16")

    def test_header_sorted_and_data_by_size(self):
        st.save(self.path, {"z": torch.zeros(2, dtype=torch.float16), "a": torch.zeros(2), "m": torch.ones(1)})
        with open(self.path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
        self.assertEqual(list(header), ["__metadata__", "a", "m", "z"])
        self.assertEqual(header["z"]["data_offsets"][0], 12)  # 4-byte types first

    def test_convert_on_save(self):
        x = torch.randn(4, 4)
        st.save(self.path, {"w": x}, dtype="BF16")
        self.assertTrue(torch.equal(st.load_torch(self.path)["w"], x.bfloat16()))
        st.save(self.path, {"w": x}, dtype="F16")
        self.assertTrue(torch.equal(st.load_torch(self.path)["w"], x.half()))

    def test_numpy_reads_bf16_as_f32(self):
        x = torch.tensor([1.0, -2.0, 3.140625])
        st.save(self.path, {"w": x.bfloat16()})
        arr = st.load_numpy(self.path)["w"]
        self.assertEqual(arr.dtype, np.float32)
        np.testing.assert_array_equal(arr, x.numpy())

    def _write_raw(self, header_obj, data=b"", pad=True):
        text = json.dumps(header_obj).encode()
        if pad:
            text += b" " * ((8 - len(text) % 8) % 8)
        with open(self.path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + data)

    def test_rejects_bad_files(self):
        cases = [
            ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "do not fit"),
            ({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
              "v": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}, b"\0" * 8, "contiguous"),
            ({"w": {"dtype": "Q8", "shape": [1], "data_offsets": [0, 1]}}, b"\0", "unsupported dtype"),
            ({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8, "trailing"),
            ({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "bad shape"),
        ]
        for header, data, msg in cases:
            self._write_raw(header, data)
            with self.assertRaisesRegex(st.SafetensorsError, msg):
                st.load_numpy(self.path)
        with open(self.path, "wb") as f:
            f.write(struct.pack("<Q", 1 << 40))
        with self.assertRaisesRegex(st.SafetensorsError, "header length"):
            st.read_header(self.path)
        with open(self.path, "wb") as f:
            f.write(struct.pack("<Q", 3) + b"{x}")
        with self.assertRaisesRegex(st.SafetensorsError, "not valid JSON"):
            st.read_header(self.path)

    def test_sharded(self):
        tensors = {f"w{i}": torch.randn(8) for i in range(5)}
        st.save_sharded(self.dir.name, "model.safetensors", tensors, max_shard_bytes=64)
        index = os.path.join(self.dir.name, "model.safetensors.index.json")
        wm = st.read_index(index)
        self.assertEqual(len(set(wm.values())), 3)
        back = st.load_sharded_torch(index)
        for k, v in tensors.items():
            self.assertTrue(torch.equal(back[k], v))


class LoaderFixture(unittest.TestCase):
    def test_committed_fixture_matches_expected(self):
        folder = os.path.join(FIXTURES, "safetensors")
        with open(os.path.join(folder, "expected.json"), encoding="utf-8") as f:
            expected = json.load(f)
        got = st.load_torch(os.path.join(folder, "dtypes.safetensors"))
        header, _, _ = st.read_header(os.path.join(folder, "dtypes.safetensors"))
        for name, e in expected["dtypes"].items():
            self.assertEqual(header[name]["dtype"], e["dtype"], name)
            self.assertEqual(list(got[name].shape), e["shape"], name)
            self.assertEqual(got[name].double().flatten().tolist(), e["values"], name)
        shards = st.load_sharded_torch(os.path.join(folder, "model.safetensors.index.json"))
        for name, vals in expected["sharded_values"].items():
            self.assertEqual(shards[name].double().flatten().tolist(), vals, name)


if __name__ == "__main__":
    unittest.main()
