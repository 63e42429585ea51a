"""Loss, output and scaling chosen from the data, for users who do not choose them.

``settings_for_data(cls, x)`` looks at the range of (a sample of) the raw
training rows and returns the constructor arguments that fit it, with the
reason in words, so a command can print what it chose:

- data in [0, 1] (pixels, rates): no scaling, sigmoid outputs, cross-entropy;
- anything else (a real-valued table): standardization inside the model,
  linear outputs, squared error; ``input_scaling="minmax"`` instead maps the
  training data into [0, 1] and keeps sigmoid outputs with cross-entropy.

The VAE picks its likelihood (Bernoulli or Gaussian) instead of a loss; the
linear autoencoder fixes its own loss and output. Nothing here imports
TensorFlow.
"""

import numpy as np

AUTO = "auto"
SCALING_CHOICES = (AUTO, "none", "standardize", "minmax")
LOSS_CHOICES = (AUTO, "cross_entropy", "squared_error")


def settings_for_data(cls, x, input_scaling=AUTO, reconstruction_loss=AUTO):
    """(constructor kwargs, reason) for model class ``cls`` on raw rows ``x``."""
    if input_scaling not in SCALING_CHOICES:
        raise ValueError(f"input_scaling must be one of {SCALING_CHOICES}, got {input_scaling!r}")
    if reconstruction_loss not in LOSS_CHOICES:
        raise ValueError(f"reconstruction_loss must be one of {LOSS_CHOICES}, got "
                         f"{reconstruction_loss!r}")
    x = np.asarray(x)
    low, high = (float(np.min(x)), float(np.max(x))) if x.size else (0.0, 1.0)
    unit = 0.0 <= low and high <= 1.0
    found = f"the data lie in [{low:.4g}, {high:.4g}]"
    if input_scaling == AUTO:
        scaling = None if unit else "standardize"
        why_scaling = ("no scaling" if unit else "standardization (fitted on the training "
                       "data, saved in the model)") + f": {found}"
    else:
        scaling = None if input_scaling == "none" else input_scaling
        why_scaling = f"{input_scaling} scaling (as asked): {found}"
    in_unit = scaling == "minmax" or (scaling is None and unit)
    if reconstruction_loss == AUTO:
        loss = "cross_entropy" if in_unit else "squared_error"
    else:
        loss = reconstruction_loss
    output = "sigmoid" if loss == "cross_entropy" or in_unit else "linear"
    kwargs = {"input_scaling": scaling}
    name = cls.__name__
    if name == "VariationalAutoencoder":
        kwargs["likelihood"] = "bernoulli" if loss == "cross_entropy" else "gaussian"
        what = f"likelihood {kwargs['likelihood']}"
    elif name == "LinearAutoencoder":
        what = "loss squared_error, linear output (fixed by LinearAutoencoder)"
    else:
        kwargs.update(reconstruction_loss=loss, output_activation=output)
        what = f"loss {loss}, {output} output"
    return kwargs, f"{what}; {why_scaling}"
