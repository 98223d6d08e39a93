"""Every default and shared constant, in one place: the CLI's options, the library's keyword
arguments, the pipeline CodeBuild runs and the tests all read them from here.

Standard library only, so anything (a CDK stack at synth time, a test) may import it cheaply.
"""

from __future__ import annotations

# --- listing (im2rec's own values) ---------------------------------------------------------------
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")  # compared lower-cased
SEED = 100  # im2rec's random.seed(100): list shuffles, explore's samples
TRAIN_RATIO = 1.0  # one PREFIX.lst
TEST_RATIO = 0.0
CHUNKS = 1

# --- packing -------------------------------------------------------------------------------------
RESIZE = 0  # keep the size
QUALITY = 95
ENCODING = ".jpg"
ENCODINGS = (".jpg", ".png")
COLOR = 1  # 3-channel colour
COLORS = (-1, 0, 1)
WORKERS = 0  # all cores
TRAINING_SIDE = 224  # the algorithm's default image_shape 3,224,224: smaller images fail training

# --- S3 layout and the packaging pipeline --------------------------------------------------------
RAW_PREFIX = "raw/"
TRAIN_PREFIX = "train/"
VALIDATION_PREFIX = "validation/"
MANIFEST_KEY = "manifest.json"
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
PIPELINE_TRAIN_RATIO = 0.75  # the lab's split
PIPELINE_RESIZE = 256  # the lab's --resize 256
PIPELINE_WORK_DIR = "recpack-work"

# --- explore -------------------------------------------------------------------------------------
EXPLORE_OUT = "recpack-explore"
EXPLORE_MIN_PER_CLASS = 2  # fewer cannot be split into train and validation
EXPLORE_SAMPLES = 6
EXPLORE_THUMBNAIL_SIZE = 160
