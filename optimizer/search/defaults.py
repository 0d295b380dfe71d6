"""The defaults of the search space and the constraints, and the names of strategies and fronts,
free of numpy: SearchSpace and Constraints take their defaults from here, and the command line
shows them in its help without loading the search."""

SPACE = {"layers": (8, 128), "layers_step": 1, "heads": (8, 128), "heads_step": 4, "head_dim": 128,
         "ffn_ratio": (2.5, 4.0),  # d / h; gated FFNs sit near 8/3 to 3.5
         "ffn_ratio_step": 0.125, "ffn_multiple": 256, "kv_heads": (8,), "vocab": 128256}
CONSTRAINTS = {"params_b": (0.1, 2000.0), "min_tokens_t": 0.01, "serve_context": 8192, "serve_batch": 1,
               "headroom": 0.1}
STRATEGIES = ("exact", "optuna", "scipy")
FRONTS = ("none", "budget", "inference")
