"""Generated knowledge for `bench/retrieval.py`: chatbots, their chunks, and visitors' questions.

Sizes: chatbots' chunk counts follow Zipf (the n-th largest holds 1/n of the largest), so a few bots
are large and most are small, as on a real platform.

Vectors are unit vectors with structure at three levels, like real embeddings: a global topic
(shipping, billing, …; random directions shared by all bots), each bot's own slant on the topics it
covers, each page near its bot's topic and each chunk near its page. The noise at each level varies
along a few directions only (real embeddings spread over a few dozen directions, not all of them),
and is drawn as the sum of two vectors of a precomputed pool so that pure Python stays fast enough
for a million vectors. Bots on the same topic overlap heavily, so a bot's nearest chunks compete
with other bots' chunks, which is what makes a filtered HNSW search hard.

Text is Zipf-distributed over a vocabulary of a few thousand made-up words with English function
words on top, mixed with the words of the chunk's topic and the bot's own names (products, brand).

Questions are either specific (near one page of the bot) or general (about one of the bot's topics,
but no page in particular), alternately.
"""

from __future__ import annotations

import math
import operator
import random
import struct
import uuid
from dataclasses import dataclass
from itertools import accumulate, repeat

Vector = list[float]

TOPICS = 64
NOISE_RANK = 16  # directions along which the noise of one level varies
POOL = 512  # precomputed noise vectors per level
PAGE_CHUNKS = 20  # chunks per page
# Norm of the noise added at each level to the unit vector below it.
# Small: tenants on the same topic write much alike (shipping, returns, pricing pages), so a
# general question finds other bots' pages about as close as the bot's own.
BOT_SLANT = 0.35
PAGE_SPREAD = 0.7
CHUNK_SPREAD = 0.5
QUESTION_SPREAD = 0.6
VOCABULARY = 4000
TOPIC_WORDS = 150
BOT_WORDS = 12

FUNCTION_WORDS = [
    *("the", "of", "and", "to", "a", "in", "is", "you", "that", "it", "for", "on", "are", "with"),
    *("as", "be", "this", "your", "we", "can", "or", "by", "from", "at", "an", "not", "will"),
    *("have", "if", "our", "all", "more", "any", "when", "how"),
]
_ONSETS = [
    *("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z"),
    *("br", "cl", "dr", "fl", "gr", "pl", "pr", "st", "tr", "sh", "ch", "th"),
]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
_CODAS = ["", "", "n", "r", "l", "s", "t", "m", "nd", "x"]

COLUMNS = (
    "workspace_id",
    "chatbot_id",
    "source_id",
    "page_id",
    "ordinal",
    "url",
    "title",
    "heading",
    "content",
    "token_count",
    "ts_config",
    "embedding",
)
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
_INT = struct.Struct(">i")


@dataclass(frozen=True, slots=True)
class Shape:
    chunks: int
    bots: int
    dims: int
    seed: int


@dataclass(frozen=True, slots=True)
class Bot:
    rank: int  # 0 is the largest
    size: int
    workspace_id: uuid.UUID
    chatbot_id: uuid.UUID
    source_id: uuid.UUID
    topics: list[int]  # global topics it covers
    centroids: list[Vector]  # its slant on each of them
    words: list[str]  # its own names


@dataclass(frozen=True, slots=True)
class Page:
    id: uuid.UUID
    url: str
    title: str


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    embedding: Vector
    specific: bool


def bot_sizes(chunks: int, bots: int) -> list[int]:
    """Zipf-distributed chunk counts, largest first, summing to `chunks`."""
    weights = [1.0 / (rank + 1) for rank in range(bots)]
    total = sum(weights)
    sizes = [max(1, int(chunks * w / total)) for w in weights]
    rank = 0
    while (missing := chunks - sum(sizes)) != 0:
        step = 1 if missing > 0 else -1
        if sizes[rank % bots] + step >= 1:
            sizes[rank % bots] += step
        rank += 1
    return sizes


def unit(v: Vector) -> Vector:
    k = 1.0 / math.hypot(*v)
    return list(map(operator.mul, v, repeat(k, len(v))))


def _add(a: Vector, b: Vector, c: Vector) -> Vector:
    return list(map(operator.add, map(operator.add, a, b), c))


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _noise_pool(rng: random.Random, dims: int, norm: float) -> list[Vector]:
    """Vectors in a random NOISE_RANK-dimensional subspace; the sum of two has about `norm`."""
    basis = [unit([rng.gauss(0.0, 1.0) for _ in range(dims)]) for _ in range(NOISE_RANK)]
    sigma = norm / math.sqrt(2 * NOISE_RANK)
    pool = []
    for _ in range(POOL):
        acc = [0.0] * dims
        for direction in basis:
            z = rng.gauss(0.0, sigma)
            acc = list(map(operator.add, acc, map(operator.mul, direction, repeat(z, dims))))
        pool.append(acc)
    return pool


def _vocabulary(rng: random.Random) -> list[str]:
    words = dict.fromkeys(FUNCTION_WORDS)
    while len(words) < VOCABULARY:
        syllables = rng.choice((2, 2, 3))
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)
        )
        words.setdefault(word)
    return list(words)


def _zipf(n: int, first: int = 0) -> list[float]:
    """Cumulative Zipf weights of ranks `first`..`n - 1`."""
    return list(accumulate(1.0 / (rank + 1) for rank in range(first, n)))


class Model:
    """Everything derived from the shape and seed; the same in every process."""

    def __init__(self, shape: Shape) -> None:
        rng = random.Random(f"{shape.seed}:model")
        self.shape = shape
        self.sizes = bot_sizes(shape.chunks, shape.bots)
        dims = shape.dims
        self.topics = [unit([rng.gauss(0.0, 1.0) for _ in range(dims)]) for _ in range(TOPICS)]
        self.slants = _noise_pool(rng, dims, BOT_SLANT)
        self.page_noise = _noise_pool(rng, dims, PAGE_SPREAD)
        self.chunk_noise = _noise_pool(rng, dims, CHUNK_SPREAD)
        self.question_noise = _noise_pool(rng, dims, QUESTION_SPREAD)
        self.words = _vocabulary(rng)
        self.word_weights = _zipf(len(self.words))
        # The vocabulary without its most common words, for headings and questions.
        self.tail_weights = {skip: _zipf(len(self.words), skip) for skip in (40, 200)}
        self.topic_words = [rng.sample(self.words[300:], TOPIC_WORDS) for _ in range(TOPICS)]
        self.topic_weights = _zipf(TOPIC_WORDS)
        self._bots: dict[int, Bot] = {}

    def bot(self, rank: int) -> Bot:
        if rank not in self._bots:
            if len(self._bots) > 64:
                self._bots.clear()
            self._bots[rank] = self._make_bot(rank)
        return self._bots[rank]

    def _make_bot(self, rank: int) -> Bot:
        rng = random.Random(f"{self.shape.seed}:bot:{rank}")
        size = self.sizes[rank]
        topics = rng.sample(range(TOPICS), min(8, 2 + size // 5000))
        centroids = [unit(self._noisy(self.topics[t], self.slants, rng)) for t in topics]
        words = [
            "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(3))
            for _ in range(BOT_WORDS)
        ]
        return Bot(rank, size, _uuid(rng), _uuid(rng), _uuid(rng), topics, centroids, words)

    @staticmethod
    def _noisy(v: Vector, pool: list[Vector], rng: random.Random) -> Vector:
        a, b = rng.sample(range(POOL), 2)
        return _add(v, pool[a], pool[b])

    def pages(self, bot: Bot) -> int:
        return math.ceil(bot.size / PAGE_CHUNKS)

    def page_centroid(self, bot: Bot, page: int) -> Vector:
        rng = random.Random(f"{self.shape.seed}:page:{bot.rank}:{page}")
        return unit(self._noisy(bot.centroids[page % len(bot.topics)], self.page_noise, rng))

    def _general(self, rng: random.Random, k: int, skip: int = 0) -> list[str]:
        if skip:
            return rng.choices(self.words[skip:], cum_weights=self.tail_weights[skip], k=k)
        return rng.choices(self.words, cum_weights=self.word_weights, k=k)

    def _topical(self, rng: random.Random, topic: int, k: int) -> list[str]:
        return rng.choices(self.topic_words[topic], cum_weights=self.topic_weights, k=k)

    def page(self, bot: Bot, page: int) -> Page:
        rng = random.Random(f"{self.shape.seed}:page-text:{bot.rank}:{page}")
        topic = bot.topics[page % len(bot.topics)]
        title_words = self._topical(rng, topic, 2)
        return Page(
            _uuid(rng),
            f"https://bot{bot.rank}.example.com/{title_words[0]}/{page}",
            f"{rng.choice(bot.words)} {' '.join(title_words)}".title(),
        )

    def chunk_text(self, bot: Bot, page: int, rng: random.Random) -> tuple[str, str, int]:
        """Heading, content and token count of one chunk of `page`."""
        topic = bot.topics[page % len(bot.topics)]
        heading = " ".join([*self._topical(rng, topic, 1), *self._general(rng, 1, skip=40)])
        n = rng.randint(120, 220)
        words = [
            *self._general(rng, n * 80 // 100),
            *self._topical(rng, topic, n * 15 // 100),
            *rng.choices(bot.words, k=n * 5 // 100),
        ]
        rng.shuffle(words)
        content = ". ".join(" ".join(words[i : i + 12]) for i in range(0, len(words), 12)) + "."
        return heading.capitalize(), content, len(words) * 13 // 10

    def chunk_vector(self, page_centroid: Vector, rng: random.Random) -> Vector:
        return unit(self._noisy(page_centroid, self.chunk_noise, rng))

    def question(self, bot: Bot, number: int) -> Question:
        """Even numbers ask about one page, odd ones about one of the bot's topics in general."""
        rng = random.Random(f"{self.shape.seed}:question:{bot.rank}:{number}")
        specific = number % 2 == 0
        if specific:
            page = rng.randrange(self.pages(bot))
            topic_index = page % len(bot.topics)
            base = self.page_centroid(bot, page)
        else:
            topic_index = rng.randrange(len(bot.topics))
            base = unit(self._noisy(bot.centroids[topic_index], self.page_noise, rng))
        embedding = unit(self._noisy(base, self.question_noise, rng))
        # Words of middling frequency: a topic word, the less common half of the vocabulary.
        terms = [
            *rng.sample(self.topic_words[bot.topics[topic_index]], 2),
            *self._general(rng, 1 if specific else 2, skip=200),
        ]
        if specific:
            terms.append(rng.choice(bot.words))
        rng.shuffle(terms)
        return Question(f"how do i {' '.join(terms)}?", embedding, specific)


# -- COPY ... (FORMAT BINARY) rows -------------------------------------------------------------

_MODEL: Model | None = None
_TS_CONFIG_OID = 0


def init_worker(shape: Shape, ts_config_oid: int) -> None:
    """Process-pool initializer: each worker derives the same model."""
    global _MODEL, _TS_CONFIG_OID
    _MODEL = Model(shape)
    _TS_CONFIG_OID = ts_config_oid


def _text(value: str) -> bytes:
    data = value.encode()
    return _INT.pack(len(data)) + data


def encode_rows(task: tuple[int, int, int]) -> bytes:
    """COPY BINARY tuples (no header) for chunks `start`..`start + count` of bot `rank`."""
    rank, start, count = task
    model = _MODEL
    assert model is not None
    bot = model.bot(rank)
    dims = model.shape.dims
    vector = struct.Struct(f">hh{dims}f")
    ids = bot.workspace_id.bytes, bot.chatbot_id.bytes, bot.source_id.bytes
    fixed = struct.pack(">h", len(COLUMNS)) + b"".join(_INT.pack(16) + i for i in ids)
    config = _INT.pack(4) + struct.pack(">I", _TS_CONFIG_OID)
    rng = random.Random(f"{model.shape.seed}:chunks:{rank}:{start}")
    out = []
    current: tuple[int, Page, Vector, bytes] | None = None
    for ordinal in range(start, start + count):
        number = ordinal // PAGE_CHUNKS
        if current is None or current[0] != number:
            page = model.page(bot, number)
            described = _INT.pack(16) + page.id.bytes
            current = (number, page, model.page_centroid(bot, number), described)
        _, page, centroid, described = current
        heading, content, tokens = model.chunk_text(bot, number, rng)
        embedding = vector.pack(dims, 0, *model.chunk_vector(centroid, rng))
        out.append(
            b"".join(
                (
                    fixed,
                    described,
                    _INT.pack(4),
                    _INT.pack(ordinal),
                    _text(page.url),
                    _text(page.title),
                    _text(heading),
                    _text(content),
                    _INT.pack(4),
                    _INT.pack(tokens),
                    config,
                    _INT.pack(len(embedding)),
                    embedding,
                )
            )
        )
    return b"".join(out)
