package io.statebackend.incremental.suites;

import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;

/** The same priority queue contract with timers configured to live on the heap. */
public class HeapTimerQueueSuiteTest extends RocksDBTimerQueueSuiteTest {

    @Override
    protected PriorityQueueStateType timerService() {
        return PriorityQueueStateType.HEAP;
    }
}
