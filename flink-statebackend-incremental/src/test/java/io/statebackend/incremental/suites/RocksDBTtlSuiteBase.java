package io.statebackend.incremental.suites;

import org.apache.flink.runtime.state.ttl.StateBackendTestContext;
import org.apache.flink.runtime.state.ttl.TtlStateTestBase;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;

import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.lang.reflect.Method;
import java.util.Optional;

/** Flink's TTL suite on this backend; subclasses choose how snapshots are taken. */
@ExtendWith(RocksDBTtlSuiteBase.SkipHeapOnlyChecks.class)
abstract class RocksDBTtlSuiteBase extends TtlStateTestBase {

    protected abstract boolean incrementalCheckpoints();

    @Override
    protected StateBackendTestContext createStateBackendTestContext(TtlTimeProvider timeProvider) {
        return new TtlSuiteBackendContext(timeProvider, incrementalCheckpoints());
    }

    /**
     * The backend's states hand out a {@code StateIncrementalVisitor} over their column family, so
     * the suite's incremental-cleanup tests run (see {@link SkipHeapOnlyChecks} for the one that
     * cannot).
     */
    @Override
    protected boolean incrementalCleanupSupported() {
        return true;
    }

    /**
     * Skips {@code testIncrementalCleanupWholeState}: its final check ({@code isOriginalCleared})
     * casts the original state to the heap backend's {@code AbstractHeapState} and fails with an
     * {@code IllegalStateException} on any other backend. The same scenario, checked by a scan of
     * the column family, is {@code
     * RocksDBStateIncrementalVisitorTest#cleansWholeStateLikeTheSuite}.
     */
    static final class SkipHeapOnlyChecks implements ExecutionCondition {
        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            Optional<Method> method = context.getTestMethod();
            if (method.isPresent()
                    && method.get().getName().equals("testIncrementalCleanupWholeState")) {
                return ConditionEvaluationResult.disabled(
                        "its check casts the state to the heap backend's AbstractHeapState;"
                                + " covered by RocksDBStateIncrementalVisitorTest");
            }
            return ConditionEvaluationResult.enabled("runs on this backend");
        }
    }
}
