"""Sequential and ModuleList."""
from collections import OrderedDict

from .module import Module


class _ModuleSequence(Module):
    """Submodules named "0", "1", ...: len(), iteration, append() and integer indexing."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def _at(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for a container of {len(self)} modules")
        return index % len(self)


class Sequential(_ModuleSequence):
    """Runs its modules in order; indexable (ints and slices), len(), append()."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return list(self._modules.values())[self._at(index)]


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters the parent module sees."""

    def __init__(self, modules=None):
        super().__init__()
        for module in modules or ():
            self.append(module)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return list(self._modules.values())[self._at(index)]

    def __setitem__(self, index, module):
        self.add_module(str(self._at(index)), module)

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

