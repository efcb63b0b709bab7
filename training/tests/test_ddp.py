"""Multi-process training (DistributedDataParallel, as torchrun starts it): two CPU processes with
different data streams end with identical weights, so gradients really are averaged."""
import os
import re
import socket
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

from training.earshot.data import Corpus

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = '{"d_model":32,"n_layers":1,"n_heads":2,"ff_dim":64,"pred_dim":32,"joiner_dim":32}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DistributedTrainingTest(unittest.TestCase):
    def test_two_processes_keep_identical_weights(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = np.random.default_rng(0)
            noise = lambda n: (r.standard_normal(n) * 3000).astype(np.int16)  # noqa: E731
            words = ["yes", "no", "stop", "cancel"]
            Corpus.from_items([(noise(8000 + 800 * i), words[i % 4], "v") for i in range(16)]).save(
                os.path.join(tmp, "synth_train.npz")
            )
            np.savez(os.path.join(tmp, "real.npz"), **{"fsdd/a": noise(4000), "fsdd/b": noise(4000)})
            with open(os.path.join(tmp, "real.tsv"), "w") as f:
                f.write("fsdd/a\t8000\tzero\ttrain\nfsdd/b\t8000\tone\tdev\n")
            port = free_port()
            procs = []
            for rank in range(2):
                env = dict(
                    os.environ,
                    RANK=str(rank),
                    LOCAL_RANK=str(rank),
                    WORLD_SIZE="2",
                    MASTER_ADDR="127.0.0.1",
                    MASTER_PORT=str(port),
                    OMP_NUM_THREADS="1",
                )
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "training.train",
                            "--run",
                            "ddp",
                            "--data",
                            tmp,
                            "--real",
                            tmp,
                            "--runs-dir",
                            os.path.join(tmp, "runs"),
                            "--out",
                            os.path.join(tmp, "out"),
                            "--config",
                            TINY,
                            "--minutes",
                            "3",
                            "--batch",
                            "2",
                            "--workers",
                            "0",
                            "--max-steps",
                            "3",
                            "--specaug",
                        ],
                        cwd=ROOT,
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        text=True,
                    )
                )
            outs = [p.communicate(timeout=300)[0] for p in procs]
            for p, out in zip(procs, outs):
                self.assertEqual(p.returncode, 0, out[-3000:])
            sums = [re.search(r"process (\d) of 2, weights checksum (\S+)\)", out) for out in outs]
            self.assertTrue(all(sums), outs)
            self.assertEqual({m.group(1) for m in sums}, {"0", "1"})
            self.assertEqual(sums[0].group(2), sums[1].group(2), "the processes' weights diverged")
            ckpt = torch.load(os.path.join(tmp, "out", "ddp.pt"), map_location="cpu")
            self.assertEqual(ckpt["step"], 3)
            self.assertIn("process(es)", outs[0] + outs[1])


if __name__ == "__main__":
    unittest.main()
