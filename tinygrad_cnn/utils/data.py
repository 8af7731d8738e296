"""``torch.utils.data``'s names, for programs that import them from there (the code is in ``tinygrad_cnn.data``)."""
from ..data import (  # noqa: F401
    BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler, Sampler, SequentialSampler,
    Subset, SubsetRandomSampler, TensorDataset, WeightedRandomSampler, default_collate, default_convert,
    get_worker_info, random_split,
)
from ..data.worker import WorkerInfo  # noqa: F401
