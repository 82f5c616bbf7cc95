"""What work costs, priced two ways from the same work (``recipe.Stage.work``: megapixels or frames
through each stage of the job's plan):

- ``measured``: on this machine, from its own measured speed: the time a job will take and the time
  left on its progress bar;
- ``reference``: on a reference GPU (an H100, measured there): the seconds a ZeroGPU call declares.

Durations are written by ``restoration.progress.duration`` for both.
"""
