package io.statebackend.incremental.suites;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.testutils.KeyedBackends;

import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.InternalPriorityQueue;
import org.apache.flink.runtime.state.InternalPriorityQueueTestBase;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Collections;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Flink's priority queue contract for the timer queues in RocksDB. A cache of 3 elements per
 * key-group makes the suite cross the cache boundary all the time.
 */
public class RocksDBTimerQueueSuiteTest extends InternalPriorityQueueTestBase {

    @TempDir Path tempDir;

    private final AtomicInteger queueCounter = new AtomicInteger();
    private MockEnvironment env;
    private IncrementalRocksDBKeyedStateBackend<Integer> backend;

    protected PriorityQueueStateType timerService() {
        return PriorityQueueStateType.ROCKSDB;
    }

    @BeforeEach
    void createBackend() throws Exception {
        env = MockEnvironment.builder().build();
        IncrementalRocksDBStateBackend stateBackend =
                new IncrementalRocksDBStateBackend()
                        .withTimerService(timerService())
                        .withLocalDirectories(tempDir.toAbsolutePath().toString())
                        .withSetting(IncrementalRocksDBOptions.TIMER_SERVICE_CACHE_SIZE.key(), "3");
        backend =
                KeyedBackends.create(
                        stateBackend,
                        env,
                        IntSerializer.INSTANCE,
                        KEY_GROUP_RANGE.getEndKeyGroup() + 1,
                        KEY_GROUP_RANGE,
                        Collections.emptyList());
    }

    @AfterEach
    void disposeBackend() throws Exception {
        backend.dispose();
        env.close();
    }

    @Override
    protected InternalPriorityQueue<TestElement> newPriorityQueue(int initialCapacity) {
        return backend.create(
                "queue-" + queueCounter.incrementAndGet(), TestElementSerializer.INSTANCE);
    }

    @Override
    protected boolean testSetSemanticsAgainstDuplicateElements() {
        return true;
    }
}
