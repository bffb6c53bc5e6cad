package io.statebackend.incremental.demo;

import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiter;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.groups.SourceReaderMetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.util.UserCodeClassLoader;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The demo's source: the initial load writes every key once, then the rate limit applies. */
class DemoJobTest {

    @Test
    void initialLoadOfAllReadersWritesEveryKeyOnceAtEventTimeZero() throws Exception {
        final int keys = 1001;
        final int parallelism = 3;
        final List<Integer> loaded = new ArrayList<>();
        for (int subtask = 0; subtask < parallelism; subtask++) {
            final DemoJob.EventGenerator generator = new DemoJob.EventGenerator(keys, 300);
            generator.open(readerContext(subtask, parallelism));
            // the reader's share of the load, then updates
            final int share = (keys - subtask + parallelism - 1) / parallelism;
            assertThat(generator.loadRemaining()).isEqualTo(share);
            for (long i = 0; i < share; i++) {
                final DemoJob.Event event = generator.map(subtask * 1_000_000L + i);
                assertThat(event.timestamp).isZero();
                loaded.add(event.key);
            }
            // the gauge that tells the demo the load is done
            assertThat(generator.loadRemaining()).isZero();
            long previousTimestamp = 0;
            for (long i = 0; i < 500; i++) {
                final DemoJob.Event event = generator.map(subtask * 1_000_000L + share + i);
                assertThat(event.key).isBetween(0, keys - 1);
                assertThat(event.timestamp).isGreaterThanOrEqualTo(previousTimestamp);
                previousTimestamp = event.timestamp;
            }
            // a reader's share of 300 updates/s at parallelism 3: 500 updates take 5 s
            assertThat(previousTimestamp).isBetween(4_900L, 5_000L);
        }
        assertThat(loaded).hasSize(keys);
        assertThat(new HashSet<>(loaded)).hasSize(keys);
    }

    @Test
    void rateLimiterLetsTheReadersShareOfTheLoadPassAtOnce() {
        final RateLimiter limiter = new LoadThenPerSecond(1001, 2).createRateLimiter(2);
        for (int i = 0; i < 501; i++) {
            assertThat(limiter.acquire().toCompletableFuture()).isDone();
        }
        // then one permit per second for this reader (2/s shared by 2 readers): the first one
        // of a fresh limiter is free, the next ones are not
        final Set<Boolean> done = new HashSet<>();
        for (int i = 0; i < 3; i++) {
            final CompletionStage<Void> permit = limiter.acquire();
            done.add(permit.toCompletableFuture().isDone());
        }
        assertThat(done).contains(false);
    }

    @Test
    void optionsAreParsedAndWrongOnesRefused() {
        final DemoJob.Options defaults = DemoJob.Options.parse(new String[0]);
        assertThat(defaults.keys).isEqualTo(DemoJob.DEFAULT_KEYS);
        assertThat(defaults.webUiPort).isEqualTo(-1);

        final DemoJob.Options options =
                DemoJob.Options.parse(
                        new String[] {"--web-ui=9090", "--keys=5", "--checkpoints=3"});
        assertThat(options.webUiPort).isEqualTo(9090);
        assertThat(options.keys).isEqualTo(5);
        assertThat(options.checkpoints).isEqualTo(3);
        assertThat(DemoJob.Options.parse(new String[] {"--web-ui"}).webUiPort).isEqualTo(8081);

        assertThatThrownBy(() -> DemoJob.Options.parse(new String[] {"--keys=0"}))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DemoJob.Options.parse(new String[] {"--colour"}))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static SourceReaderContext readerContext(int subtask, int parallelism) {
        return new SourceReaderContext() {
            @Override
            public SourceReaderMetricGroup metricGroup() {
                return UnregisteredMetricsGroup.createSourceReaderMetricGroup();
            }

            @Override
            public Configuration getConfiguration() {
                return new Configuration();
            }

            @Override
            public String getLocalHostName() {
                return "localhost";
            }

            @Override
            public int getIndexOfSubtask() {
                return subtask;
            }

            @Override
            public int currentParallelism() {
                return parallelism;
            }

            @Override
            public void sendSplitRequest() {}

            @Override
            public void sendSourceEventToCoordinator(SourceEvent sourceEvent) {}

            @Override
            public UserCodeClassLoader getUserCodeClassLoader() {
                throw new UnsupportedOperationException();
            }
        };
    }
}
