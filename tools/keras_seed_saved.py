"""Run the tutorial anchor's keras_seed.py unchanged, and save each model it trains as a Keras 2
.h5 with its predicted probabilities on the test split (the .npz's order), for
`attnclf import-keras` parity checks (benchmarks/keras_import_parity.py).

Runs only in the Keras venv of shared/anchors/keras_seed/README.md:

    /tmp/keras-seed-venv/bin/python tools/keras_seed_saved.py SAVE_DIR DATA.npz [keras_seed args]

keras_seed.py evaluates each model on the test split right after training it; this wraps
keras.Model.evaluate to save the model and its test predictions first, so the figures it
prints are those of the very models saved.
"""

import json
import runpy
import sys
from pathlib import Path

import numpy as np
from tensorflow import keras

SEED = Path(__file__).resolve().parents[1].parent / "shared" / "anchors" / "keras_seed"

save_dir = Path(sys.argv[1])
save_dir.mkdir(parents=True, exist_ok=True)
evaluate = keras.Model.evaluate


def saving_evaluate(model, x, y, *args, **kwargs):
    kinds = {layer.__class__.__name__ for layer in model.layers}
    name = "self-attention" if "SeqSelfAttention" in kinds else "multihead"
    model.save(save_dir / f"{name}.h5", include_optimizer=False)
    probabilities = model.predict(x, batch_size=512, verbose=0)[:, 0]
    np.save(save_dir / f"{name}-test-probabilities.npy", probabilities.astype(np.float64))
    (save_dir / f"{name}.json").write_text(json.dumps({"test_size": int(len(x))}))
    return evaluate(model, x, y, *args, **kwargs)


keras.Model.evaluate = saving_evaluate
sys.argv = [str(SEED / "keras_seed.py"), *sys.argv[2:]]
runpy.run_path(str(SEED / "keras_seed.py"), run_name="__main__")
