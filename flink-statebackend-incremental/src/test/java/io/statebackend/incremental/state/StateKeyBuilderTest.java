package io.statebackend.incremental.state;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.runtime.state.SerializedCompositeKeyBuilder;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** The reused key buffer builds exactly the keys of Flink's composite key builder. */
class StateKeyBuilderTest {

    @Test
    void fixedSizedKeyAndNamespace() throws Exception {
        assertSameKeys(LongSerializer.INSTANCE, 42L, IntSerializer.INSTANCE, 7, 1);
        assertSameKeys(
                LongSerializer.INSTANCE,
                -1L,
                VoidNamespaceSerializer.INSTANCE,
                VoidNamespace.INSTANCE,
                2);
    }

    @Test
    void variableSizedKeyAndNamespaceGetTheKeyLength() throws Exception {
        // both variable-sized: "ab" + "c" must differ from "a" + "bc"
        assertSameKeys(StringSerializer.INSTANCE, "ab", StringSerializer.INSTANCE, "c", 1);
        assertSameKeys(StringSerializer.INSTANCE, "a", StringSerializer.INSTANCE, "bc", 2);
        assertSameKeys(StringSerializer.INSTANCE, "key", IntSerializer.INSTANCE, 3, 2);
    }

    @Test
    void theBufferFollowsTheLatestKeyNamespaceAndUserKey() throws Exception {
        StateKeyBuilder<String> builder = new StateKeyBuilder<>(StringSerializer.INSTANCE, 2, 4);
        SerializedCompositeKeyBuilder<String> flink =
                new SerializedCompositeKeyBuilder<>(StringSerializer.INSTANCE, 2, 4);

        builder.setKeyAndKeyGroup("a rather long key that makes the buffer grow", 300);
        flink.setKeyAndKeyGroup("a rather long key that makes the buffer grow", 300);
        int length =
                builder.setNamespaceAndUserKey(
                        "ns", StringSerializer.INSTANCE, 5L, LongSerializer.INSTANCE);
        assertThat(Arrays.copyOf(builder.buffer(), length))
                .isEqualTo(
                        flink.buildCompositeKeyNamesSpaceUserKey(
                                "ns", StringSerializer.INSTANCE, 5L, LongSerializer.INSTANCE));

        // a shorter namespace afterwards leaves nothing of the user key behind
        length = builder.setNamespace("n", StringSerializer.INSTANCE);
        assertThat(length).isEqualTo(builder.length());
        assertThat(builder.copy())
                .isEqualTo(flink.buildCompositeKeyNamespace("n", StringSerializer.INSTANCE));

        // a new key replaces the old one whole
        builder.setKeyAndKeyGroup("k", 1);
        flink.setKeyAndKeyGroup("k", 1);
        builder.setNamespace("n", StringSerializer.INSTANCE);
        assertThat(builder.copy())
                .isEqualTo(flink.buildCompositeKeyNamespace("n", StringSerializer.INSTANCE));
    }

    private static <K, N> void assertSameKeys(
            TypeSerializer<K> keySerializer,
            K key,
            TypeSerializer<N> namespaceSerializer,
            N namespace,
            int keyGroupPrefixBytes)
            throws Exception {
        StateKeyBuilder<K> builder = new StateKeyBuilder<>(keySerializer, keyGroupPrefixBytes, 1);
        SerializedCompositeKeyBuilder<K> flink =
                new SerializedCompositeKeyBuilder<>(keySerializer, keyGroupPrefixBytes, 1);
        int keyGroup = keyGroupPrefixBytes == 1 ? 0xFF : 0xFFFF;
        builder.setKeyAndKeyGroup(key, keyGroup);
        flink.setKeyAndKeyGroup(key, keyGroup);

        int length = builder.setNamespace(namespace, namespaceSerializer);
        assertThat(Arrays.copyOf(builder.buffer(), length))
                .isEqualTo(flink.buildCompositeKeyNamespace(namespace, namespaceSerializer));

        length =
                builder.setNamespaceAndUserKey(
                        namespace, namespaceSerializer, "user", StringSerializer.INSTANCE);
        assertThat(Arrays.copyOf(builder.buffer(), length))
                .isEqualTo(
                        flink.buildCompositeKeyNamesSpaceUserKey(
                                namespace, namespaceSerializer, "user", StringSerializer.INSTANCE));
    }
}
