"""Trajectories pinned across the engine's speed work (issue 14).

The literals below were produced by the code BEFORE issue 14 (commit 9757156), whose step
arithmetic is independently cross-checked against torch.optim in tests/test_optimizers.py and
against SCIENCE.md's worked numbers in tests/test_science.py. They are that code's parameters
after selected optimizer steps, its final parameters, and its final full training and validation
losses, for scenarios that exercise every path of the hot loop: plain SGD (the worked example),
an MLP with Adam, gradient accumulation, sampling with replacement, Keras steps_per_epoch (the
iterator continuing across epochs), and a classifier with drop_last, Nesterov momentum, weight
decay and a cosine schedule. A lesson or a teacher's notes made with one version must stay true
in the next (issue 14: "parameters after every step equal today's to 1e-12 relative").
"""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Scenario, Simulation
from mbsim.engine.scenario import load_preset

CASES = {
    "worked-example": dict(preset="worked-example", epochs=8),
    "xor-mlp-adam": dict(preset="xor-mlp", optimizer="adam", lr=0.01, epochs=3),
    "accumulate": dict(preset="accumulate", epochs=3),
    "with-replacement": dict(preset="with-replacement", epochs=3),
    "steps-per-epoch": dict(preset="steps-per-epoch", epochs=12),
    "blobs-drop-last-momentum": dict(dataset="blobs", samples=150, val_samples=30, batch_size=32,
                                     drop_last=True, optimizer="nesterov", lr=0.2, weight_decay=0.01,
                                     schedule="cosine", epochs=10),
}

# name: ({step: params after that step}, final step, final params, final train loss, final val loss)
PINNED = {
    'worked-example': ({
        1: [0.04859462579831721, -0.08548860749166964],
        2: [0.11518479873720566, -0.24050506545629702],
        40: [1.501815024003071, -0.9748890759852628],
        300: [1.977147018891054, -0.999813931155044],
    }, 320, [1.9474313582035208, -1.055500457798928], 0.09494894934063704, 0.10042668029664548),
    'xor-mlp-adam': ({
        1: [-0.5819607082609232, -0.06856937477006908, -0.25821928851860887, -0.6918254283018992, 0.03384806142447978, -0.16963656047771145, 0.5318340991067323, -0.2245105729010468, 0.24005149861562763, 0.0862774159230486, -0.29331416224099943, -0.03580348487937726, -0.19715701039294467, -0.3811093435025168, -0.5724828725992416, -0.6433960856277351, -0.4021570037996469, -0.5792755217528939, -0.4840820329775966, -0.5404433775139581, -0.1891824303277427, -0.36027809686309437, -0.7108716983358182, -0.6705620158535169, 0.35652023319971093, -0.17021006457697807, -0.3146839176243442, 0.09910237600079, 0.046515732449087424, -0.06859384571324562, 0.17499052123268, 0.31899357234109893, -0.08328790345580861],
        7: [-0.5430614912455407, -0.11047625737173429, -0.22208961006530514, -0.6823745299702101, 0.004424310124349713, -0.1619331210525395, 0.5321762230878252, -0.19161854688465102, 0.28060180053999295, 0.08070387155872102, -0.33349075729276995, -0.004995785024378196, -0.2177771655952645, -0.4010736696200582, -0.5922767674060779, -0.6729020086089076, -0.40735338106990654, -0.5722616183899933, -0.48417623317268227, -0.5291251821919022, -0.18218142097499862, -0.3544894959431261, -0.7118208334389848, -0.6805943061627513, 0.34510542824221285, -0.15893302375201712, -0.3122227140248619, 0.1020924522447314, 0.06374838490601653, -0.07473568059022846, 0.17770064530195617, 0.33207846752530074, -0.08353395225732539],
        20: [-0.5751514916218442, -0.19043780209329564, -0.12485138471433548, -0.6337196739033489, 0.05535672951758661, -0.14411845475895502, 0.4840609766543048, -0.11922128347220287, 0.26230154129620653, 0.059708599818874886, -0.3068696140168665, 0.05677199734635782, -0.3027558013139156, -0.4680424636475282, -0.6807335958158405, -0.7542668571781005, -0.3460680226089344, -0.6231279153836187, -0.5445051171154256, -0.47291242035932957, -0.1237811342127447, -0.41986630416407944, -0.6463036449802194, -0.628690366251254, 0.32607315228786077, -0.1723027110116518, -0.37000650225514403, 0.02080626407532174, -0.0033117589989389348, -0.10931856742358652, 0.14008869010368166, 0.3564288306276824, -0.02341293474492947],
        60: [-0.5876297368311794, -0.3276564589905766, 0.16453739914007243, -0.7025787446741317, 0.18017974664320546, -0.2909060269654317, 0.4500322915962043, -0.10939100529919595, 0.21900702432777144, 0.07260552466074298, -0.37559469755514113, 0.15651052336643745, -0.47223688208257025, -0.5645516013747488, -0.8532268653805118, -0.908357925293065, -0.3859920763554107, -0.607902767024758, -0.5531453697830854, -0.4391966839108898, -0.06855146066387806, -0.43676228273068257, -0.6696711580795519, -0.7482025649344357, 0.3292163277477764, -0.20418488099804052, -0.39664265063082776, -0.029648638672664266, 0.00914528673660158, -0.12292493963676132, 0.16599331172956502, 0.4734308990225015, -0.013451392359937616],
    }, 60, [-0.5876297368311794, -0.3276564589905766, 0.16453739914007243, -0.7025787446741317, 0.18017974664320546, -0.2909060269654317, 0.4500322915962043, -0.10939100529919595, 0.21900702432777144, 0.07260552466074298, -0.37559469755514113, 0.15651052336643745, -0.47223688208257025, -0.5645516013747488, -0.8532268653805118, -0.908357925293065, -0.3859920763554107, -0.607902767024758, -0.5531453697830854, -0.4391966839108898, -0.06855146066387806, -0.43676228273068257, -0.6696711580795519, -0.7482025649344357, 0.3292163277477764, -0.20418488099804052, -0.39664265063082776, -0.029648638672664266, 0.00914528673660158, -0.12292493963676132, 0.16599331172956502, 0.4734308990225015, -0.013451392359937616], 0.6518392807870146, 0.6666105402677026),
    'accumulate': ({
        1: [0.06680116216993169, -0.13562641692641894],
        8: [0.4725360842671549, -0.5017830645048371],
        24: [1.119835557393586, -0.8644016075639799],
    }, 24, [1.119835557393586, -0.8644016075639799], 0.36360539242163986, 0.3769824074266675),
    'with-replacement': ({
        1: [0.06455060253503651, -0.0383829688995738],
        40: [1.4827188894110674, -0.904468405364952],
        120: [2.000716859025843, -1.0374470737841774],
    }, 120, [2.000716859025843, -1.0374470737841774], 0.09444755523340014, 0.09691229928371058),
    'steps-per-epoch': ({
        1: [0.08213233350538895, -0.13096058052566104],
        20: [0.9585271630895736, -0.8521511175268249],
        100: [1.913038686262478, -0.9902692442613692],
        240: [1.9860497049274184, -0.9918837750055564],
    }, 240, [1.9860497049274184, -0.9918837750055564], 0.09480947326519096, 0.08860437179147058),
    'blobs-drop-last-momentum': ({
        1: [0.0936874298208103, 0.06318422957043875, -0.011875],
        4: [0.4820199930813933, 0.4838901044825945, 0.004936444248417172],
        40: [2.067312130916468, 2.0269755728638432, 0.11412754311058737],
    }, 40, [2.067312130916468, 2.0269755728638432, 0.11412754311058737], 0.3346742488253606, 0.15283260573518348),
}
RTOL = 1e-12


def scenario(name: str) -> Scenario:
    kw = dict(CASES[name])
    preset = kw.pop("preset", None)
    base = load_preset(preset) if preset else Scenario()
    return base.replace(**kw)


def close(actual: object, expected: object) -> bool:
    a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    return a.shape == e.shape and bool(np.all(np.abs(a - e) <= RTOL * np.maximum(np.abs(e), 1e-300)))


@pytest.mark.parametrize("name", sorted(PINNED))
def test_parameters_after_selected_steps_are_unchanged(name: str) -> None:
    at_steps, final_step, final, train, val = PINNED[name]
    sim = Simulation(scenario(name))
    for step, expected in at_steps.items():
        while sim.step < step and not sim.done:
            sim.step_update()
        assert sim.step == step
        assert close(sim.params, expected), (name, step, sim.params.tolist(), expected)
    sim.run_to_end()
    assert sim.step == final_step
    assert close(sim.params, final)
    assert close(sim.train_loss, train)
    assert close(sim.val_loss, val)


@pytest.mark.parametrize("name", ["worked-example", "accumulate", "blobs-drop-last-momentum"])
def test_stepping_in_one_go_gives_the_pinned_end(name: str) -> None:
    """run_to_end (the headless hot loop) lands on the same parameters as stepping one update
    at a time, with the full losses read only at the end."""
    _, final_step, final, train, val = PINNED[name]
    sim = Simulation(scenario(name))
    sim.run_to_end()
    assert sim.step == final_step
    assert close(sim.params, final)
    assert close(sim.train_loss, train)
    assert close(sim.val_loss, val)


@pytest.mark.parametrize("every", ["1", "3", "epoch"])
@pytest.mark.parametrize("name", ["xor-mlp-adam", "steps-per-epoch"])
def test_how_often_losses_are_evaluated_never_changes_the_trajectory(name: str, every: str) -> None:
    _, final_step, final, train, val = PINNED[name]
    sim = Simulation(scenario(name).replace(eval_every=every))
    sim.on_step = lambda rec: None        # a writer attached, as with --trace/--history
    sim.run_to_end()
    assert sim.step == final_step and close(sim.params, final)
    assert close(sim.train_loss, train) and close(sim.val_loss, val)
