"""Names that say what they are: registry keys are the builders' Python names, and
configs written under the earlier names still load."""

import json

import pytest

import rnnjax
from rnnjax import cells, memory
from rnnjax.legacy import MEMORY_RENAMES
from rnnjax.train.config import TrainConfig


@pytest.mark.parametrize("registry, module", [(cells.CELLS, cells), (memory.MEMORIES, memory)])
def test_registry_keys_are_the_builders_python_names(registry, module):
    for entry in registry.entries():
        assert getattr(module, entry.name) is entry.build, entry.name


@pytest.mark.parametrize("old, new", sorted(MEMORY_RENAMES.items()))
def test_a_saved_config_with_an_earlier_memory_name_loads_under_the_new_one(old, new):
    current = TrainConfig.of(memory=new)
    saved = json.loads(current.to_json())
    saved["model"]["memory"] = old
    assert TrainConfig.from_json(json.dumps(saved)) == current
    flat_v1 = {"task": "anbn", "cell": "lstm", "memory": old}
    assert TrainConfig.from_json(json.dumps(flat_v1)).model.memory == new


def test_layer_stacking_is_layers_and_the_old_name_says_so():
    assert rnnjax.layers is cells.layers
    with pytest.raises(AttributeError, match="rnnjax.stack is now rnnjax.layers"):
        rnnjax.stack  # noqa: B018
    with pytest.raises(AttributeError, match="rnnjax.cells.stack is now rnnjax.cells.layers"):
        cells.stack  # noqa: B018
    assert memory.stack(3).name == "stack(3)"
