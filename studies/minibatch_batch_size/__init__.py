"""Which batch size minibatch ADVI uses by default (studies/minibatch_batch_size)."""
