"""Resumable zoo training: a recipe's run saved after every epoch and continued by the next run.

Long recipes (the VAE's hundreds of epochs) outlast one session on a small
machine. ``aezoo zoo train NAME --checkpoint-dir DIR`` keeps the run's state
in ``DIR/NAME/``, a folder it makes and alone writes to:

- ``backup/``: Keras' ``BackupAndRestore`` files (weights, optimizer state
  and the epoch reached), written after every epoch, the previous copy kept
  until the new one is complete;
- ``pretrained.keras``: for a pretraining recipe, the unrolled network once
  pretraining is done, so a resumed run does not pretrain again;
- ``state.json``: the recipe and epoch scale it belongs to, the training
  seconds so far and the time-to-target readings, so the card's training
  time and time to paper count every session's training.

The folder is named after the recipe, but what it must match is the
recipe's training (everything but its name, description and notes, and of
its metrics only the paper goals timed after every epoch): moved
to ``DIR/OTHER/``, it resumes under recipe ``OTHER`` if that trains the same
way, which is how a finished attempt's run becomes a zoo entry's.

Running the same command again resumes from the last finished epoch (the
learning-rate schedule too: it follows the optimizer's step count). A
checkpoint made by a different recipe or epoch scale is refused, never
overwritten. The folder is removed once the model is published.
"""

import json
import os
import shutil

import keras

from aezoo.zoo.timing import paper_goals

STATE_FILE = "state.json"
BACKUP_FOLDER = "backup"
PRETRAINED_FILE = "pretrained.keras"


def _fresh_state():
    """The state of a run that has not trained yet."""
    return {"training_seconds": 0.0, "time_to_target": {}, "epoch": 0}


class CheckpointError(ValueError):
    """A checkpoint folder that does not belong to this run, or cannot be read."""


def _training_part(recipe):
    # A recipe's name, description and notes (its own and its sections') change what a card
    # says, not what the run trains. Of its metrics, only the paper goals timed after every
    # epoch touch the run (their readings are saved with it); the rest are measured once it
    # is over, so an attempt that measured fewer than its entry still carries over.
    part = {key: ({k: v for k, v in value.items() if k != "notes"}
                  if isinstance(value, dict) else value)
            for key, value in recipe.items()
            if key not in ("name", "description", "notes", "metrics")}
    if "metrics" in recipe:  # else: a saved identity, which holds its timed goals already
        part["timed_goals"] = paper_goals(recipe)
    return part


def _identity(recipe, epochs_scale):
    """What a checkpoint must share with the run that resumes it.

    The recipe's training, not its words, so that a run can be carried over
    to a recipe that trains the same way under another name: an attempt
    promoted to the entry it beat.
    """
    # Round-tripped through JSON so that tuples and lists compare equal.
    return json.loads(json.dumps({"recipe": _training_part(recipe),
                                  "epochs_scale": float(epochs_scale)}))


class TrainingCheckpoint:
    """The checkpoint of one recipe's run under ``directory`` (in its own ``NAME`` folder)."""

    def __init__(self, directory, recipe, epochs_scale=1.0):
        self.folder = os.path.join(os.fspath(directory), recipe["name"])
        self.identity = _identity(recipe, epochs_scale)
        self.state_path = os.path.join(self.folder, STATE_FILE)
        self.backup_dir = os.path.join(self.folder, BACKUP_FOLDER)
        self.pretrained_path = os.path.join(self.folder, PRETRAINED_FILE)
        self.state = self._read_state()

    def _read_state(self):
        """The saved state, or a fresh one; refuses a folder that holds another run."""
        if not os.path.exists(self.folder):
            return _fresh_state()
        if not os.path.isdir(self.folder):
            raise CheckpointError(f"{self.folder} is not a folder; pass another "
                                  "--checkpoint-dir")
        if not os.path.exists(self.state_path):
            if os.listdir(self.folder):
                raise CheckpointError(
                    f"{self.folder} holds files but no {STATE_FILE}: it is not an aezoo "
                    "training checkpoint, and it is left alone; pass another --checkpoint-dir")
            return _fresh_state()
        try:
            with open(self.state_path, encoding="utf-8") as handle:
                saved = json.load(handle)
            state = {key: saved[key] for key in ("training_seconds", "time_to_target", "epoch")}
            if "pretraining_seconds" in saved:
                state["pretraining_seconds"] = saved["pretraining_seconds"]
            identity = _identity(saved["identity"]["recipe"], saved["identity"]["epochs_scale"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise CheckpointError(f"cannot read the checkpoint {self.state_path}: {error}; "
                                  f"remove {self.folder} to start over") from error
        if identity != self.identity:
            what = ("epoch scale" if identity.get("recipe") == self.identity["recipe"]
                    else "recipe")
            raise CheckpointError(
                f"the checkpoint in {self.folder} was made with another {what}; it is left "
                f"as it is: remove it to start over, or pass another --checkpoint-dir")
        return state

    @property
    def resuming(self):
        return os.path.exists(self.state_path)

    @property
    def has_pretrained(self):
        return os.path.exists(self.pretrained_path)

    def save_state(self, **fields):
        """Updates and writes ``state.json`` (temp file, then an atomic rename)."""
        self.state.update(fields)
        os.makedirs(self.folder, exist_ok=True)
        temporary = self.state_path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"identity": self.identity, **self.state}, handle, indent=1)
        os.replace(temporary, self.state_path)

    def save_pretrained(self, model, pretraining_seconds):
        os.makedirs(self.folder, exist_ok=True)
        temporary = self.pretrained_path[: -len(".keras")] + ".tmp.keras"
        model.save(temporary)
        os.replace(temporary, self.pretrained_path)
        self.save_state(training_seconds=pretraining_seconds,
                        pretraining_seconds=pretraining_seconds)

    def load_pretrained(self):
        from aezoo.zoo import register_model_classes

        # A run resumed in a fresh process has not imported the classes the file names yet.
        register_model_classes()

        try:
            return keras.saving.load_model(self.pretrained_path, compile=False)
        except Exception as error:  # a truncated or foreign file: say which
            raise CheckpointError(f"cannot load {self.pretrained_path}: {error}; remove "
                                  f"{self.folder} to start over") from error

    def callbacks(self, clock, time_to_target=None):
        """Keras callbacks that save the run after every epoch (and restore it at the start)."""
        return [keras.callbacks.BackupAndRestore(self.backup_dir, double_checkpoint=True,
                                                 delete_checkpoint=False),
                _SaveState(self, clock, time_to_target)]

    def remove(self):
        """Deletes the files this module made, then the folder if nothing else is in it."""
        for path in (self.state_path, self.pretrained_path):
            if os.path.exists(path):
                os.remove(path)
        if os.path.isdir(self.backup_dir):
            shutil.rmtree(self.backup_dir)
        if os.path.isdir(self.folder) and not os.listdir(self.folder):
            os.rmdir(self.folder)


class _SaveState(keras.callbacks.Callback):
    """After each epoch (and after the weights' backup): the clock and time-to-target readings."""

    def __init__(self, checkpoint, clock, time_to_target):
        super().__init__()
        self.checkpoint, self.clock, self.time_to_target = checkpoint, clock, time_to_target

    def on_epoch_end(self, epoch, logs=None):
        reached = self.time_to_target.reached if self.time_to_target is not None else {}
        self.checkpoint.save_state(training_seconds=self.clock.seconds(), epoch=epoch + 1,
                                   time_to_target=reached)
