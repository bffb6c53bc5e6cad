package io.statebackend.incremental.demo;

import org.apache.flink.api.connector.source.util.ratelimit.RateLimiter;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * A rate limiter that lets each reader's share of an initial load ({@code keys} events in all) pass
 * at once and then limits the reader to its share of {@code perSecond}: the demo's job and the
 * restore time driver's load their keys and then update them this way.
 */
public final class LoadThenPerSecond implements RateLimiterStrategy {

    private static final long serialVersionUID = 1L;

    private final int keys;
    private final int perSecond;

    public LoadThenPerSecond(int keys, int perSecond) {
        this.keys = keys;
        this.perSecond = perSecond;
    }

    @Override
    public RateLimiter createRateLimiter(int parallelism) {
        final RateLimiter limited =
                RateLimiterStrategy.perSecond(perSecond).createRateLimiter(parallelism);
        final long unlimited = (keys + parallelism - 1) / parallelism;
        return new RateLimiter() {
            private long passed;

            @Override
            public CompletionStage<Void> acquire() {
                if (passed < unlimited) {
                    passed++;
                    return CompletableFuture.completedFuture(null);
                }
                return limited.acquire();
            }
        };
    }
}
