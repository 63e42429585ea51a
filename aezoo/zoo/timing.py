"""Time to target: the training wall time at which a metric first reaches its paper's value.

A ``TrainingClock`` runs from the start of training (pretraining included)
and stops while metrics are measured, so the figure is training time only.
``TimeToTarget`` is a Keras callback that measures the tracked metrics after
every epoch and records, for each, the first epoch and clock reading at
which it reached its goal.
"""

import contextlib
import os
import platform
import time

import keras

from aezoo.zoo.metrics import is_cheap, meets, paper_goal


class TrainingClock:
    """Seconds since ``start``, less the time spent inside ``paused()``, plus ``already``.

    ``already``: the training seconds of earlier sessions of a resumed run.
    """

    def __init__(self, already=0.0):
        self.start = time.perf_counter()
        self.paused_seconds = 0.0
        self.already = float(already)

    def seconds(self):
        return time.perf_counter() - self.start - self.paused_seconds + self.already

    @contextlib.contextmanager
    def paused(self):
        began = time.perf_counter()
        try:
            yield
        finally:
            self.paused_seconds += time.perf_counter() - began


def paper_goals(recipe, cheap_only=True):
    """{metric: (op, paper value)} for the recipe's metrics with a paper value to reach.

    See ``aezoo.zoo.metrics.paper_goal``; ``cheap_only`` keeps the metrics a
    per-epoch check can afford.
    """
    return {metric["name"]: paper_goal(metric) for metric in recipe["metrics"]
            if paper_goal(metric) is not None
            and not (cheap_only and not is_cheap(metric["name"]))}


class TimeToTarget(keras.callbacks.Callback):
    """After each epoch, measures ``measure()`` and notes when each goal is first met.

    ``measure`` returns {metric: value}; ``goals`` is {metric: (op, value)}.
    ``reached`` maps each met metric to {"seconds", "epoch", "value"}, the
    clock's reading at the end of that epoch; ``history`` keeps every
    epoch's (seconds, values). ``label`` and ``log`` print each check;
    ``reached`` carries the readings of a resumed run's earlier sessions.
    """

    def __init__(self, measure, goals, clock, label="", log=print, reached=None):
        super().__init__()
        self.measure, self.goals, self.clock = measure, dict(goals), clock
        self.label, self.log = label, log
        self.reached = dict(reached or {})
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        seconds = self.clock.seconds()
        with self.clock.paused():
            values = self.measure()
        self.history.append((seconds, values))
        for name, (op, goal) in self.goals.items():
            if name not in self.reached and meets(op, values.get(name), goal):
                self.reached[name] = {"seconds": seconds, "epoch": epoch + 1,
                                      "value": values[name]}
        if self.log is not None:
            shown = ", ".join(f"{name} {value:.4g}" for name, value in values.items()
                              if value is not None)
            met = list(self.reached)
            self.log(f"{self.label}epoch {epoch + 1}: {shown} at {seconds:.0f} s of training"
                     + (f" (paper value reached: {', '.join(met)})" if met else ""))


def hardware():
    """What the model was trained on: the CPU, its core count, and any GPU TensorFlow sees."""
    import tensorflow as tf

    gpus = [tf.config.experimental.get_device_details(device).get("device_name", device.name)
            for device in tf.config.list_physical_devices("GPU")]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle
                     if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cpu_cores": cores, "gpus": gpus}
