-- A source's chunks: the embedding job reads those still without a vector, in id order, batch
-- after batch (a partial index: it holds only the chunks waiting, usually none); deleting a
-- source removes its chunks (the cascade looks them up by source).
create index knowledge_chunks_unembedded_idx on public.knowledge_chunks (source_id, id)
  where embedding is null;
create index knowledge_chunks_source_idx on public.knowledge_chunks (source_id);
