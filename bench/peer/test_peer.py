"""Self-checks for the PyTorch peer: /usr/bin/python3 bench/peer/test_peer.py

The forward is pinned to a naive float64 re-derivation written here position by position and head by
head from the raw HF weight files (no fused weights, scalar RoPE and llama3 formulas); the rest checks
properties that must hold whatever the weights: KV-cache generation equals recomputation, a
left-padded row equals its unpadded run, prefixed and bare gpt2 names agree, safetensors round-trips.
"""

import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_model  # noqa: E402
import make_tiny_models  # noqa: E402
import st  # noqa: E402

FAMILY_FOLDERS = ("llama", "llama3rope", "qwen2", "gpt2")


def setUpModule():
    global TMP, FOLDERS
    torch.set_num_threads(1)  # tiny models: threads only add OpenMP wake-up latency
    TMP = tempfile.mkdtemp(prefix="peer-test-")
    FOLDERS = make_tiny_models.write_tiny_models(TMP, seed=0, bf16=True)


def tearDownModule():
    shutil.rmtree(TMP, ignore_errors=True)


def load(name, dtype=torch.float32):
    return hf_model.DecoderLM.from_folder(FOLDERS[name], dtype=dtype)


def read_config(folder):
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        return json.load(f)


# ----------------------------------------------------------------------------------------------------
# naive float64 reference: one unpadded sequence, explicit loops


def naive_inv_freq(config, head_dim):
    scaling = config.get("rope_scaling") or {}
    theta = config.get("rope_theta", 10000.0)
    result = []
    for j in range(head_dim // 2):
        freq = 1.0 / theta ** (2 * j / head_dim)
        if scaling.get("rope_type") == "llama3":
            orig, low, high, factor = (scaling["original_max_position_embeddings"], scaling["low_freq_factor"],
                                       scaling["high_freq_factor"], scaling["factor"])
            wavelength = 2 * math.pi / freq
            if wavelength < orig / high:
                pass
            elif wavelength > orig / low:
                freq = freq / factor
            else:
                smooth = (orig / wavelength - low) / (high - low)
                freq = (1 - smooth) * freq / factor + smooth * freq
        result.append(freq)
    return result


def naive_forward(folder, ids):
    """(logits [T, V], residual stream after each block [n_layers] x [T, d]) in float64."""
    config = read_config(folder)
    w = {k: v.double() for k, v in st.load_folder(folder).items()}
    gpt2 = config["model_type"] == "gpt2"
    if gpt2:
        d, n_layers, n_heads = config["n_embd"], config["n_layer"], config["n_head"]
        n_kv, head_dim, eps = n_heads, d // n_heads, config["layer_norm_epsilon"]
        prefix = "transformer." if "transformer.wte.weight" in w else ""
    else:
        d, n_layers, n_heads = config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"]
        n_kv, head_dim, eps = config["num_key_value_heads"], config["head_dim"], config["rms_norm_eps"]
        inv_freq = naive_inv_freq(config, head_dim)

    def norm(v, weight, bias):
        if gpt2:
            centred = v - v.mean()
            return weight * centred / math.sqrt(float((centred * centred).mean()) + eps) + bias
        return weight * v / math.sqrt(float((v * v).mean()) + eps)

    def rotate(vec, pos):  # one head [head_dim]: pairs (j, j + head_dim/2)
        out = vec.clone()
        half = head_dim // 2
        for j in range(half):
            c, s = math.cos(pos * inv_freq[j]), math.sin(pos * inv_freq[j])
            out[j] = vec[j] * c - vec[j + half] * s
            out[j + half] = vec[j + half] * c + vec[j] * s
        return out

    if gpt2:
        xs = [w[prefix + "wte.weight"][t] + w[prefix + "wpe.weight"][p] for p, t in enumerate(ids)]
    else:
        xs = [w["model.embed_tokens.weight"][t].clone() for t in ids]
    residuals = []
    for layer in range(n_layers):
        qs, ks, vs = [], [], []
        for pos, x in enumerate(xs):
            if gpt2:
                p = f"{prefix}h.{layer}."
                qkv = norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"]) @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
                q, k, v = qkv[:d], qkv[d:2 * d], qkv[2 * d:]
            else:
                p = f"model.layers.{layer}."
                h = norm(x, w[p + "input_layernorm.weight"], None)
                q, k, v = (w[f"{p}self_attn.{n}_proj.weight"] @ h + w.get(f"{p}self_attn.{n}_proj.bias", 0) for n in "qkv")
            q = [q[i * head_dim:(i + 1) * head_dim] for i in range(n_heads)]
            k = [k[i * head_dim:(i + 1) * head_dim] for i in range(n_kv)]
            v = [v[i * head_dim:(i + 1) * head_dim] for i in range(n_kv)]
            if not gpt2:
                q, k = [rotate(x_, pos) for x_ in q], [rotate(x_, pos) for x_ in k]
            qs.append(q), ks.append(k), vs.append(v)
        new_xs = []
        for i, x in enumerate(xs):
            heads = []
            for head in range(n_heads):
                group = head // (n_heads // n_kv)
                scores = torch.tensor([float(qs[i][head] @ ks[j][group]) / math.sqrt(head_dim) for j in range(i + 1)])
                probs = torch.exp(scores - scores.max())
                probs = probs / probs.sum()
                heads.append(sum(float(probs[j]) * vs[j][group] for j in range(i + 1)))
            attn = torch.cat(heads)
            if gpt2:
                x = x + attn @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
                pre = norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"]) @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
                act = 0.5 * pre * (1 + torch.tanh(math.sqrt(2 / math.pi) * (pre + 0.044715 * pre ** 3)))
                x = x + act @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
            else:
                x = x + w[p + "self_attn.o_proj.weight"] @ attn
                h = norm(x, w[p + "post_attention_layernorm.weight"], None)
                gate, up = w[p + "mlp.gate_proj.weight"] @ h, w[p + "mlp.up_proj.weight"] @ h
                x = x + w[p + "mlp.down_proj.weight"] @ (gate * torch.sigmoid(gate) * up)
            new_xs.append(x)
        xs = new_xs
        residuals.append(torch.stack(xs))
    if gpt2:
        finals = [norm(x, w[prefix + "ln_f.weight"], w[prefix + "ln_f.bias"]) for x in xs]
        head = w.get("lm_head.weight") if not config.get("tie_word_embeddings", True) else w[prefix + "wte.weight"]
    else:
        finals = [norm(x, w["model.norm.weight"], None) for x in xs]
        head = w["model.embed_tokens.weight"] if config.get("tie_word_embeddings") else w["lm_head.weight"]
    return torch.stack([head @ f for f in finals]), residuals


# ----------------------------------------------------------------------------------------------------


class SafetensorsTest(unittest.TestCase):
    def sample(self):
        g = torch.Generator().manual_seed(1)
        return {
            "f32": torch.randn(3, 5, generator=g),
            "f16": torch.randn(7, generator=g).half(),
            "bf16": torch.randn(2, 3, generator=g).bfloat16(),
            "f64": torch.randn(4, 1, generator=g).double(),
            "i64": torch.tensor([-(2 ** 40), 3, 7]),
            "i32": torch.tensor([[1, -2], [3, 4]], dtype=torch.int32),
            "u8": torch.tensor([0, 255, 7], dtype=torch.uint8),
            "bool": torch.tensor([True, False, True]),
            "scalar": torch.tensor(2.5),
            "empty": torch.zeros(0, 4),
            "strided": torch.arange(12.0).reshape(3, 4).t(),
        }

    def test_round_trip_keeps_values_dtypes_shapes_metadata(self):
        tensors = self.sample()
        path = os.path.join(TMP, "rt.safetensors")
        st.save_file(tensors, path, metadata={"format": "pt", "n": 3})
        loaded = st.load_file(path)
        self.assertEqual(set(loaded), set(tensors))
        for name, tensor in tensors.items():
            self.assertEqual(loaded[name].dtype, tensor.dtype, name)
            self.assertEqual(tuple(loaded[name].shape), tuple(tensor.shape), name)
            self.assertTrue(torch.equal(loaded[name], tensor), name)
        self.assertEqual(st.load_metadata(path), {"format": "pt", "n": "3"})

    def test_layout_follows_the_format(self):
        path = os.path.join(TMP, "layout.safetensors")
        st.save_file(self.sample(), path)
        with open(path, "rb") as f:
            raw = f.read()
        (header_len,) = struct.unpack("<Q", raw[:8])
        self.assertEqual(header_len % 8, 0)
        header = json.loads(raw[8:8 + header_len])
        ends = []
        for name, entry in header.items():
            begin, end = entry["data_offsets"]
            size = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "U8": 1, "BOOL": 1}[entry["dtype"]]
            self.assertEqual((8 + header_len + begin) % size, 0, name)
            ends.append(end)
        self.assertEqual(8 + header_len + max(ends), len(raw))
        # bytes of a known tensor, little-endian float32
        begin, _ = header["scalar"]["data_offsets"]
        self.assertEqual(raw[8 + header_len + begin:8 + header_len + begin + 4], struct.pack("<f", 2.5))

    def test_rejects_offsets_outside_the_buffer(self):
        path = os.path.join(TMP, "bad.safetensors")
        header = json.dumps({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
        header += b" " * ((8 - len(header) % 8) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(header)) + header + b"\0" * 8)
        with self.assertRaisesRegex(ValueError, "offsets"):
            st.load_file(path)

    def test_sharded_folder(self):
        folder = os.path.join(TMP, "sharded")
        os.makedirs(folder, exist_ok=True)
        tensors = self.sample()
        names = sorted(tensors)
        st.save_file({n: tensors[n] for n in names[:5]}, os.path.join(folder, "model-00001-of-00002.safetensors"))
        st.save_file({n: tensors[n] for n in names[5:]}, os.path.join(folder, "model-00002-of-00002.safetensors"))
        weight_map = {n: f"model-0000{1 if i < 5 else 2}-of-00002.safetensors" for i, n in enumerate(names)}
        with open(os.path.join(folder, st.INDEX_FILE), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f)
        loaded = st.load_folder(folder)
        self.assertEqual(set(loaded), set(tensors))
        for name in names:
            self.assertTrue(torch.equal(loaded[name], tensors[name]), name)


class ForwardTest(unittest.TestCase):
    def test_matches_naive_float64_reference(self):
        ids = [3, 17, 99, 4, 4, 60, 127, 0, 31]
        for name in FAMILY_FOLDERS:
            with self.subTest(name):
                out = load(name).forward(torch.tensor([ids]))
                logits, residuals = naive_forward(FOLDERS[name], ids)
                self.assertLess((out.logits[0].double() - logits).abs().max().item(), 1e-3)
                for layer, resid in enumerate(residuals):
                    self.assertLess((out.resid_post(layer)[0].double() - resid).abs().max().item(), 1e-3)

    def test_llama3_config_exercises_all_three_bands_and_matches_scalar_formula(self):
        config = read_config(FOLDERS["llama3rope"])
        inv_freq, scaling = hf_model.rope_inv_freq(config, 16)
        expected = torch.tensor(naive_inv_freq(config, 16), dtype=torch.float64)
        self.assertEqual(scaling, 1.0)
        self.assertLess(((inv_freq.double() - expected) / expected).abs().max().item(), 1e-6)
        plain, _ = hf_model.rope_inv_freq({"rope_theta": 10000.0}, 16)
        ratio = (plain / inv_freq).tolist()
        self.assertTrue(any(abs(r - 1) < 1e-6 for r in ratio), ratio)  # short wavelengths kept
        self.assertTrue(any(abs(r - 8) < 1e-5 for r in ratio), ratio)  # long ones divided by factor
        self.assertTrue(any(1.01 < r < 7.99 for r in ratio), ratio)  # the band blended

    def test_rope_parameters_layout_equals_rope_scaling_layout(self):
        config = read_config(FOLDERS["llama3rope"])
        rope_parameters = dict(config.pop("rope_scaling"), rope_theta=config.pop("rope_theta"))
        folder = os.path.join(TMP, "llama3rope-v5")
        make_tiny_models.write_folder(folder, dict(config, rope_parameters=rope_parameters),
                                      st.load_folder(FOLDERS["llama3rope"]))
        ids = torch.tensor([[5, 9, 2, 77, 31, 8, 100, 3, 3, 41, 12]])
        v5 = hf_model.DecoderLM.from_folder(folder).forward(ids).logits
        self.assertTrue(torch.equal(v5, load("llama3rope").forward(ids).logits))
        self.assertFalse(torch.allclose(v5, load("llama").forward(ids).logits))

    def test_gpt2_weight_names_with_and_without_transformer_prefix_agree(self):
        folder = os.path.join(TMP, "gpt2-prefixed")
        weights = {"transformer." + k: v for k, v in st.load_folder(FOLDERS["gpt2"]).items()}
        make_tiny_models.write_folder(folder, read_config(FOLDERS["gpt2"]), weights)
        ids = torch.tensor([[1, 2, 3, 50, 60, 70, 127]])
        self.assertTrue(torch.equal(hf_model.DecoderLM.from_folder(folder).forward(ids).logits,
                                    load("gpt2").forward(ids).logits))

    def test_hidden_states_follow_hf_layout(self):
        for name in FAMILY_FOLDERS:
            with self.subTest(name):
                model = load(name)
                ids = torch.tensor([[4, 8, 15, 16, 23, 42]])
                out = model.forward(ids)
                self.assertEqual(len(out.hidden_states), model.spec.n_layers + 1)
                embed = st.load_folder(FOLDERS[name])
                expected0 = embed["wte.weight"][ids[0]] + embed["wpe.weight"][:6] if name == "gpt2" else embed["model.embed_tokens.weight"][ids[0]]
                self.assertTrue(torch.allclose(out.hidden_states[0][0], expected0))
                pre = out.last_block_pre_norm.double()
                if name == "gpt2":
                    normed = torch.nn.functional.layer_norm(pre, (64,), embed["ln_f.weight"].double(), embed["ln_f.bias"].double(), 1e-5)
                else:
                    eps = read_config(FOLDERS[name])["rms_norm_eps"]
                    normed = embed["model.norm.weight"].double() * pre / (pre.pow(2).mean(-1, keepdim=True) + eps).sqrt()
                self.assertLess((out.hidden_states[-1].double() - normed).abs().max().item(), 1e-5)
                self.assertGreater((out.hidden_states[-1] - out.last_block_pre_norm).abs().max().item(), 0.1)

    def test_left_padded_row_equals_unpadded_run(self):
        rows = [[7, 3, 99, 12, 5, 64, 2, 8], [45, 6, 101], [1, 2, 3, 4, 5]]
        width = max(len(r) for r in rows)
        ids = torch.tensor([[0] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        for name in FAMILY_FOLDERS:
            model = load(name)
            batched = model.forward(ids, mask)
            for b, row in enumerate(rows):
                with self.subTest(name, row=b):
                    alone = model.forward(torch.tensor([row]))
                    real = slice(width - len(row), width)
                    self.assertEqual(batched.position_ids[b, real].tolist(), list(range(len(row))))
                    self.assertLess((batched.logits[b, real] - alone.logits[0]).abs().max().item(), 1e-4)
                    for got, want in zip(batched.hidden_states, alone.hidden_states):
                        self.assertLess((got[b, real] - want[0]).abs().max().item(), 1e-4)
                    self.assertLess((batched.last_block_pre_norm[b, real] - alone.last_block_pre_norm[0]).abs().max().item(), 1e-4)
                    self.assertTrue(torch.isfinite(batched.logits[b]).all())
            if name == "gpt2":  # learned absolute positions: 0..T-1 instead of cumsum-1 changes padded rows
                shifted = model.forward(ids, mask, position_ids=torch.arange(width).expand(3, -1))
                self.assertFalse(torch.allclose(shifted.logits[1, -3:], batched.logits[1, -3:], atol=1e-3))

    def test_bf16_compute_stays_close_to_f32_compute_of_the_same_weights(self):
        ids = torch.tensor([[3, 17, 99, 4, 60, 127]])
        for name in FAMILY_FOLDERS:
            with self.subTest(name):
                f32 = load(name + "-bf16").forward(ids).logits  # bf16 weights, float32 arithmetic
                bf16 = load(name + "-bf16", torch.bfloat16).forward(ids).logits
                self.assertEqual(bf16.dtype, torch.bfloat16)
                error = (bf16.float() - f32).abs()
                self.assertLess(error.max().item(), 0.4)  # logits have std ~2.3; measured max 0.12-0.23
                self.assertLess(error.mean().item(), 0.06)  # measured 0.025-0.036

    def test_config_errors_name_the_fix(self):
        config = dict(read_config(FOLDERS["llama"]), num_key_value_heads=3)
        with self.assertRaisesRegex(ValueError, r"num_key_value_heads \(3\) must divide num_attention_heads \(4\)"):
            hf_model.spec_from_config(config)
        with self.assertRaisesRegex(ValueError, "rope type 'yarn'"):
            hf_model.rope_inv_freq({"rope_scaling": {"rope_type": "yarn", "factor": 2.0}}, 16)


class GenerateTest(unittest.TestCase):
    prompts = [[5, 9, 33, 71, 2, 18, 90], [44, 3], [100, 101, 7, 7]]

    def batch(self):
        width = max(len(p) for p in self.prompts)
        ids = torch.tensor([[0] * (width - len(p)) + p for p in self.prompts])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in self.prompts])
        return ids, mask

    def test_kv_cache_greedy_equals_recomputation_on_a_mixed_length_batch(self):
        ids, mask = self.batch()
        for name in FAMILY_FOLDERS:
            with self.subTest(name):
                model = load(name)
                cached = model.generate(ids, mask, 24)
                recomputed = model.generate(ids, mask, 24, use_cache=False)
                self.assertEqual(cached.shape, (3, 24))
                self.assertEqual(cached.tolist(), recomputed.tolist())
                self.assertGreater(len(set(cached.flatten().tolist())), 4)  # not a degenerate repeat

    def test_batched_generation_equals_each_prompt_alone(self):
        ids, mask = self.batch()
        for name in FAMILY_FOLDERS:
            model = load(name)
            batched = model.generate(ids, mask, 12)
            for b, prompt in enumerate(self.prompts):
                with self.subTest(name, row=b):
                    self.assertEqual(batched[b].tolist(), model.generate(torch.tensor([prompt]), None, 12)[0].tolist())

    def test_greedy_tokens_are_the_argmax_of_the_full_forward(self):
        model = load("qwen2")
        prompt = [12, 99, 5, 64]
        new = model.generate(torch.tensor([prompt]), None, 6)[0].tolist()
        logits = model.forward(torch.tensor([prompt + new])).logits[0]
        self.assertEqual(logits[len(prompt) - 1:-1].argmax(-1).tolist(), new)

    def test_sampling_limits_and_seeds(self):
        ids, mask = self.batch()
        model = load("llama")
        greedy = model.generate(ids, mask, 10)
        top1 = model.generate(ids, mask, 10, hf_model.Sampling(greedy=False, temperature=0.7, top_k=1),
                              generator=torch.Generator().manual_seed(3))
        tiny_p = model.generate(ids, mask, 10, hf_model.Sampling(greedy=False, top_p=1e-6),
                                generator=torch.Generator().manual_seed(4))
        self.assertEqual(top1.tolist(), greedy.tolist())
        self.assertEqual(tiny_p.tolist(), greedy.tolist())
        warm = hf_model.Sampling(greedy=False, temperature=1.5, top_k=50, top_p=0.95)
        first = model.generate(ids, mask, 10, warm, generator=torch.Generator().manual_seed(7))
        again = model.generate(ids, mask, 10, warm, generator=torch.Generator().manual_seed(7))
        other = model.generate(ids, mask, 10, warm, generator=torch.Generator().manual_seed(8))
        self.assertEqual(first.tolist(), again.tolist())
        self.assertNotEqual(first.tolist(), other.tolist())
        self.assertNotEqual(first.tolist(), greedy.tolist())

    def test_top_k_and_top_p_filters(self):
        logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
        counts = torch.zeros(4)
        generator = torch.Generator().manual_seed(0)
        for _ in range(400):
            counts[hf_model.choose_next_token(logits, hf_model.Sampling(greedy=False, top_p=0.75), generator)] += 1
        self.assertEqual(counts[2:].sum().item(), 0)  # 0.5 + 0.3 covers 0.75: tokens 2, 3 dropped
        self.assertGreater(counts[1].item(), 0)
        counts.zero_()
        for _ in range(400):
            counts[hf_model.choose_next_token(logits, hf_model.Sampling(greedy=False, top_k=3), generator)] += 1
        self.assertEqual(counts[3].item(), 0)
        self.assertGreater(counts[2].item(), 0)

    def test_rows_that_hit_eos_continue_with_pad(self):
        ids, mask = self.batch()
        model = load("gpt2")
        free = model.generate(ids, mask, 12)
        eos = free[0, 2].item()
        stopped = model.generate(ids, mask, 12, eos_token_id=eos, pad_token_id=127)
        for b in range(3):
            row = free[b].tolist()
            if eos in row:
                cut = row.index(eos) + 1
                self.assertEqual(stopped[b, :cut].tolist(), row[:cut])
                self.assertTrue(all(t == 127 for t in stopped[b, cut:].tolist()))
            else:
                self.assertEqual(stopped[b].tolist(), row[:stopped.shape[1]])

    def test_right_padding_is_refused(self):
        with self.assertRaisesRegex(ValueError, "left-padded"):
            load("llama").generate(torch.tensor([[5, 6, 0]]), torch.tensor([[1, 1, 0]]), 2)


class CommandLineTest(unittest.TestCase):
    def run_cli(self, *args):
        done = subprocess.run([sys.executable, os.path.join(HERE, "reference_forward.py"), *args],
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    def test_forward_json_matches_the_library(self):
        rows = [[3, 4, 5, 6], [9, 10]]
        result = self.run_cli(FOLDERS["llama3rope"], "--tokens", json.dumps(rows), "--threads", "1")
        self.assertEqual(result["attention_mask"], [[1, 1, 1, 1], [0, 0, 1, 1]])
        self.assertEqual(result["position_ids"][1][2:], [0, 1])
        out = load("llama3rope").forward(torch.tensor(result["input_ids"]), torch.tensor(result["attention_mask"]))
        self.assertTrue(torch.allclose(torch.tensor(result["logits"]), out.logits, atol=1e-5))
        self.assertEqual(len(result["hidden_states"]), 3)
        self.assertTrue(torch.allclose(torch.tensor(result["last_block_pre_norm"]), out.last_block_pre_norm, atol=1e-5))
        self.assertEqual(result["threads"], 1)

    def test_generate_json_matches_the_library(self):
        out_path = os.path.join(TMP, "gen.json")
        with open(os.path.join(TMP, "prompts.json"), "w") as f:
            json.dump(GenerateTest.prompts, f)
        subprocess.run([sys.executable, os.path.join(HERE, "reference_forward.py"), FOLDERS["qwen2"],
                        "--tokens", "@" + os.path.join(TMP, "prompts.json"), "--generate", "9", "--greedy",
                        "--out", out_path], check=True)
        with open(out_path) as f:
            result = json.load(f)
        ids, mask = GenerateTest().batch()
        self.assertEqual(result["tokens"], load("qwen2").generate(ids, mask, 9).tolist())
        self.assertGreater(result["new_tokens_per_second"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
