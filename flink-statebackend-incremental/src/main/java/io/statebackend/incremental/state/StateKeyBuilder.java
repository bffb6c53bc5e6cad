package io.statebackend.incremental.state;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.util.FlinkRuntimeException;
import org.apache.flink.util.Preconditions;

import java.io.IOException;

/**
 * Builds RocksDB keys {@code [key-group][key][namespace][user key]} in one reused buffer, in the
 * layout of Flink's {@link org.apache.flink.runtime.state.SerializedCompositeKeyBuilder} (the
 * length of a variable-sized key before a variable-sized namespace, so that no two composites are
 * ambiguous). The key and key-group are serialized once per current key; namespace and user key are
 * appended per access. Unlike Flink's builder it hands out the buffer itself, so that a point
 * access passes the key to RocksDB without copying it into a new array.
 *
 * <p>The buffer is shared by all states of a backend and valid until the next call that writes: use
 * it right away. Task thread only.
 */
public final class StateKeyBuilder<K> {

    private final TypeSerializer<K> keySerializer;
    private final int keyGroupPrefixBytes;
    private final boolean keyVariableSized;
    private final DataOutputSerializer out;

    /** Length of {@code [key-group][key]}, 0 before the first key. */
    private int afterKey;

    /** Length of {@code [key-group][key][namespace]} after the last namespace written. */
    private int afterNamespace;

    public StateKeyBuilder(
            TypeSerializer<K> keySerializer, int keyGroupPrefixBytes, int initialSize) {
        this.keySerializer = Preconditions.checkNotNull(keySerializer);
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.keyVariableSized =
                CompositeKeySerializationUtils.isSerializerTypeVariableSized(keySerializer);
        this.out = new DataOutputSerializer(initialSize);
    }

    public void setKeyAndKeyGroup(K key, int keyGroup) {
        try {
            out.clear();
            CompositeKeySerializationUtils.writeKeyGroup(keyGroup, keyGroupPrefixBytes, out);
            keySerializer.serialize(key, out);
        } catch (IOException e) {
            throw new FlinkRuntimeException("Could not serialize the key " + key, e);
        }
        afterKey = out.length();
        afterNamespace = 0;
    }

    /** Writes {@code [key-group][key][namespace]}; returns its length. */
    public <N> int setNamespace(N namespace, TypeSerializer<N> namespaceSerializer) {
        Preconditions.checkState(afterKey > 0, "No current key is set.");
        out.setPosition(afterKey);
        try {
            boolean ambiguous =
                    keyVariableSized
                            && CompositeKeySerializationUtils.isSerializerTypeVariableSized(
                                    namespaceSerializer);
            if (ambiguous) {
                CompositeKeySerializationUtils.writeVariableIntBytes(
                        afterKey - keyGroupPrefixBytes, out);
            }
            CompositeKeySerializationUtils.writeNameSpace(
                    namespace, namespaceSerializer, out, ambiguous);
        } catch (IOException e) {
            throw new FlinkRuntimeException("Could not serialize the namespace " + namespace, e);
        }
        afterNamespace = out.length();
        return afterNamespace;
    }

    /** Writes {@code [key-group][key][namespace][user key]}; returns its length. */
    public <N, UK> int setNamespaceAndUserKey(
            N namespace,
            TypeSerializer<N> namespaceSerializer,
            UK userKey,
            TypeSerializer<UK> userKeySerializer)
            throws IOException {
        setNamespace(namespace, namespaceSerializer);
        userKeySerializer.serialize(userKey, out);
        return out.length();
    }

    /** The bytes written so far; valid until the next write, longer than {@link #length()}. */
    public byte[] buffer() {
        return out.getSharedBuffer();
    }

    public int length() {
        return out.length();
    }

    /** A copy of the bytes written so far. */
    public byte[] copy() {
        return out.getCopyOfBuffer();
    }
}
