#!/usr/bin/python3
"""NumPy twin of bench_cbow.c: word2vec CBOW with negative sampling written as
"Deep Learning from Scratch 2" chapter 4 writes it (ch04/negative_sampling_layer.py,
ch04/cbow.py, common/layers.py, common/optimizer.py, common/trainer.py):
Embedding, EmbeddingDot, UnigramSampler (power 0.75, its CPU path: per row,
np.random.choice without replacement and with the target's probability set
to 0), SigmoidWithLoss, NegativeSamplingLoss, the book's Adam, and the
trainer's remove_duplicate. Same corpus and sizes as bench_cbow.c (window 2,
hidden 100, 5 negatives, batch 100); the book's Adam has eps 1e-7 where
dezero-c's (PyTorch's) has 1e-8.
Prints cbow_words_per_s (higher is better), cbow_loss and cbow_samples.
Options: --threads N (NumPy runs this single-threaded), --quick (25 timed
steps instead of 100)."""
import collections
import string
import time

import numpy as np

import bench_common

CORPUS_PATH = "/usr/share/games/fortunes/cookie"
MAX_BYTES, MAX_VOCABULARY = 200000, 3000
WINDOW, HIDDEN, BATCH, NEGATIVES = 2, 100, 100, 5
WARMUP_BATCHES, TIMED_BATCHES = 5, 100


# ---- the corpus, prepared as bench_cbow.c does ----

def load_corpus():
    """Word ids by frequency (ties: first appearance), the 2,999 most frequent
    words and "<unk>"; returns (ids, vocabulary size)."""
    with open(CORPUS_PATH, "rb") as f:
        text = f.read(MAX_BYTES)
    blank = bytes(string.punctuation.replace(".", "").replace("'", ""), "ascii")
    text = text.translate(bytes.maketrans(blank, b" " * len(blank)))
    words = text.lower().replace(b".", b" . ").split()  # DLfS2's preprocess
    first_ids = {}
    ids = np.array([first_ids.setdefault(w, len(first_ids)) for w in words])
    counts = np.bincount(ids)
    order = sorted(range(len(counts)), key=lambda w: (-counts[w], w))
    kept = len(counts) if len(counts) <= MAX_VOCABULARY else MAX_VOCABULARY - 1
    new_id = np.empty(len(counts), dtype=np.int32)
    for rank, w in enumerate(order):
        new_id[w] = min(rank, kept)
    return new_id[ids], min(len(counts), kept + 1)


def create_contexts_target(corpus, window_size=1):
    target = corpus[window_size:-window_size]
    contexts = []
    for idx in range(window_size, len(corpus) - window_size):
        cs = []
        for t in range(-window_size, window_size + 1):
            if t == 0:
                continue
            cs.append(corpus[idx + t])
        contexts.append(cs)
    return np.array(contexts), np.array(target)


# ---- the book's layers ----

def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class SigmoidWithLoss:
    def __init__(self):
        self.params, self.grads = [], []
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = 1 / (1 + np.exp(-x))
        self.loss = cross_entropy_error(np.c_[1 - self.y, self.y], self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        dx = (self.y - self.t) * dout / batch_size
        return dx


class Embedding:
    def __init__(self, W):
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.idx = None

    def forward(self, idx):
        W, = self.params
        self.idx = idx
        out = W[idx]
        return out

    def backward(self, dout):
        dW, = self.grads
        dW[...] = 0
        np.add.at(dW, self.idx, dout)
        return None


class EmbeddingDot:
    def __init__(self, W):
        self.embed = Embedding(W)
        self.params = self.embed.params
        self.grads = self.embed.grads
        self.cache = None

    def forward(self, h, idx):
        target_W = self.embed.forward(idx)
        out = np.sum(target_W * h, axis=1)
        self.cache = (h, target_W)
        return out

    def backward(self, dout):
        h, target_W = self.cache
        dout = dout.reshape(dout.shape[0], 1)
        dtarget_W = dout * h
        self.embed.backward(dtarget_W)
        dh = dout * target_W
        return dh


class UnigramSampler:
    def __init__(self, corpus, power, sample_size):
        self.sample_size = sample_size
        counts = collections.Counter()
        for word_id in corpus:
            counts[word_id] += 1
        vocab_size = len(counts)
        self.vocab_size = vocab_size
        self.word_p = np.zeros(vocab_size)
        for i in range(vocab_size):
            self.word_p[i] = counts[i]
        self.word_p = np.power(self.word_p, power)
        self.word_p /= np.sum(self.word_p)

    def get_negative_sample(self, target):
        batch_size = target.shape[0]
        negative_sample = np.zeros((batch_size, self.sample_size), dtype=np.int32)
        for i in range(batch_size):
            p = self.word_p.copy()
            target_idx = target[i]
            p[target_idx] = 0
            p /= p.sum()
            negative_sample[i, :] = np.random.choice(self.vocab_size, size=self.sample_size, replace=False, p=p)
        return negative_sample


class NegativeSamplingLoss:
    def __init__(self, W, corpus, power=0.75, sample_size=5):
        self.sample_size = sample_size
        self.sampler = UnigramSampler(corpus, power, sample_size)
        self.loss_layers = [SigmoidWithLoss() for _ in range(sample_size + 1)]
        self.embed_dot_layers = [EmbeddingDot(W) for _ in range(sample_size + 1)]
        self.params, self.grads = [], []
        for layer in self.embed_dot_layers:
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, h, target):
        batch_size = target.shape[0]
        negative_sample = self.sampler.get_negative_sample(target)
        score = self.embed_dot_layers[0].forward(h, target)
        correct_label = np.ones(batch_size, dtype=np.int32)
        loss = self.loss_layers[0].forward(score, correct_label)
        negative_label = np.zeros(batch_size, dtype=np.int32)
        for i in range(self.sample_size):
            negative_target = negative_sample[:, i]
            score = self.embed_dot_layers[1 + i].forward(h, negative_target)
            loss += self.loss_layers[1 + i].forward(score, negative_label)
        return loss

    def backward(self, dout=1):
        dh = 0
        for l0, l1 in zip(self.loss_layers, self.embed_dot_layers):
            dscore = l0.backward(dout)
            dh += l1.backward(dscore)
        return dh


class CBOW:
    def __init__(self, vocab_size, hidden_size, window_size, corpus):
        V, H = vocab_size, hidden_size
        W_in = 0.01 * np.random.randn(V, H).astype('f')
        W_out = 0.01 * np.random.randn(V, H).astype('f')
        self.in_layers = []
        for i in range(2 * window_size):
            layer = Embedding(W_in)
            self.in_layers.append(layer)
        self.ns_loss = NegativeSamplingLoss(W_out, corpus, power=0.75, sample_size=NEGATIVES)
        layers = self.in_layers + [self.ns_loss]
        self.params, self.grads = [], []
        for layer in layers:
            self.params += layer.params
            self.grads += layer.grads
        self.word_vecs = W_in

    def forward(self, contexts, target):
        h = 0
        for i, layer in enumerate(self.in_layers):
            h += layer.forward(contexts[:, i])
        h *= 1 / len(self.in_layers)
        loss = self.ns_loss.forward(h, target)
        return loss

    def backward(self, dout=1):
        dout = self.ns_loss.backward(dout)
        dout *= 1 / len(self.in_layers)
        for layer in self.in_layers:
            layer.backward(dout)
        return None


class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m, self.v = [], []
            for param in params:
                self.m.append(np.zeros_like(param))
                self.v.append(np.zeros_like(param))
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for i in range(len(params)):
            self.m[i] += (1 - self.beta1) * (grads[i] - self.m[i])
            self.v[i] += (1 - self.beta2) * (grads[i]**2 - self.v[i])
            params[i] -= lr_t * self.m[i] / (np.sqrt(self.v[i]) + 1e-7)


def remove_duplicate(params, grads):
    """The trainer's merge of shared weights (their grads are summed)."""
    params, grads = params[:], grads[:]
    while True:
        find_flg = False
        L = len(params)
        for i in range(0, L - 1):
            for j in range(i + 1, L):
                if params[i] is params[j]:
                    grads[i] += grads[j]
                    find_flg = True
                    params.pop(j)
                    grads.pop(j)
                elif params[i].ndim == 2 and params[j].ndim == 2 and \
                        params[i].T.shape == params[j].shape and np.all(params[i].T == params[j]):
                    grads[i] += grads[j].T
                    find_flg = True
                    params.pop(j)
                    grads.pop(j)
                if find_flg:
                    break
            if find_flg:
                break
        if not find_flg:
            break
    return params, grads


# ---- the trainer's loop (common/trainer.py), timed ----

def main():
    options = bench_common.parse_options()
    corpus, vocab_size = load_corpus()
    contexts, target = create_contexts_target(corpus, WINDOW)
    np.random.seed(0)
    model = CBOW(vocab_size, HIDDEN, WINDOW, corpus)
    optimizer = Adam()
    batches_per_epoch = len(target) // BATCH
    order, step = np.random.permutation(len(target)), 0

    def train_step():
        nonlocal order, step
        if step == batches_per_epoch:
            order, step = np.random.permutation(len(target)), 0
        idx = order[step * BATCH:(step + 1) * BATCH]
        step += 1
        loss = model.forward(contexts[idx], target[idx])
        model.backward()
        params, grads = remove_duplicate(model.params, model.grads)
        optimizer.update(params, grads)
        return loss

    for _ in range(WARMUP_BATCHES):
        train_step()
    timed = TIMED_BATCHES // 4 if options.quick else TIMED_BATCHES
    start = time.perf_counter()
    loss_sum = sum(train_step() for _ in range(timed))
    seconds = time.perf_counter() - start
    bench_common.report("cbow_words_per_s", timed * BATCH / seconds)
    bench_common.report("cbow_loss", loss_sum / timed)
    bench_common.report("cbow_samples", len(target))


if __name__ == "__main__":
    main()
