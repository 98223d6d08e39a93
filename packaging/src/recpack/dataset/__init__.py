"""A dataset's images and classes (folder-per-class or NABirds/CUB metadata), split into lists."""
