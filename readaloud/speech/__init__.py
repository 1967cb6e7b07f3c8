"""From an utterance to sound: segments → engine → player, gapless and cancellable."""
