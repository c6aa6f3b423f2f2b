import numpy as np

from trainer.data import DataOrder, NpzInfo, choose_window, load_dataset, make_batch, relative_values

from .conftest import write_npz


def test_window_takes_newest_files_then_the_tail_of_the_next():
    infos = [
        NpzInfo("a.npz", "2026-01-01T00:00:00Z", 100),
        NpzInfo("c.npz", "2026-03-01T00:00:00Z", 50),
        NpzInfo("b.npz", "2026-02-01T00:00:00Z", 80),
    ]
    got = choose_window(infos, 100)
    assert [(i.path, i.used, i.start) for i in got] == [("c.npz", 50, 0), ("b.npz", 50, 30)]
    got = choose_window([NpzInfo("x", "t", 10)], 1000)
    assert [(i.used, i.start) for i in got] == [(10, 0)]


def test_relative_values_rotate_from_the_player_to_move():
    vmp = np.array([[1, 0, -1, 0], [1, 0, -1, 0], [1, 0, -1, 0]], np.float32)
    ptm = np.array([1, 2, 3])
    rel = relative_values(vmp, ptm, 3)
    assert rel.tolist() == [[1, 0, -1, 0], [0, -1, 1, 0], [-1, 1, 0, 0]]


def test_load_window_and_batch_targets(tmp_path):
    a, b = str(tmp_path / "a.npz"), str(tmp_path / "b.npz")
    na = write_npz(a, games=5, per_game=10, seed=1, created_at="2026-01-01T00:00:00Z")
    nb = write_npz(b, games=3, per_game=10, seed=2, created_at="2026-02-01T00:00:00Z")
    ds = load_dataset([a, b], "square8_2p", nb + 15)
    assert ds.n == nb + 15
    assert [(f.path, f.used) for f in ds.files] == [(b, nb), (a, 15)]
    with np.load(a) as za:
        # the newest part of a (its tail) follows all of b
        assert np.array_equal(ds.features[nb:], za["features"][na - 15 :])
        ip, ix, pr = za["policy_indptr"], za["policy_indices"], za["policy_probs"]
    idx = np.array([nb + 3, 0, nb + 14, 2])
    bt = make_batch(ds, idx)
    dense = np.zeros((4, 11081), np.float32)
    dense[bt.rows, bt.cols] = bt.probs
    j = na - 15 + 3
    ref = np.zeros(11081, np.float32)
    ref[ix[ip[j] : ip[j + 1]]] = pr[ip[j] : ip[j + 1]]
    assert np.array_equal(dense[0], ref)
    assert np.allclose(dense.sum(1), 1)
    j = na - 1
    assert bt.top[2] == ix[ip[j] : ip[j + 1]][np.argmax(pr[ip[j] : ip[j + 1]])]


def test_data_order_is_a_function_of_seed_and_step():
    tr = np.arange(0, 100, 2)
    o1, o2 = DataOrder(tr, 16, 5), DataOrder(tr, 16, 5)
    seq = np.concatenate([o1.batch_indices(s) for s in range(7)])
    # each epoch is a permutation of the train indices
    assert sorted(seq[:50].tolist()) == tr.tolist()
    assert np.array_equal(o2.batch_indices(6), seq[96:112])
    assert not np.array_equal(DataOrder(tr, 16, 6).batch_indices(0), seq[:16])


def test_device_data_gathers_the_same_batches(tmp_path):
    import torch

    from trainer.data import DeviceData
    from trainer.train import to_tensors

    p = str(tmp_path / "d.npz")
    write_npz(p, games=4, per_game=15)
    ds = load_dataset([p], "square8_2p", 10**6)
    dd = DeviceData(ds, torch.device("cpu"))
    idx = np.array([5, 0, 59, 17, 17, 33])
    a, b = to_tensors(make_batch(ds, idx), False), dd.batch(idx)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
