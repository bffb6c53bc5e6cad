package io.statebackend.incremental.model;

import java.io.Serializable;

/** One record of the model's input: an operation on the state or the timers of one key. */
public final class Command implements Serializable {

    private static final long serialVersionUID = 1L;

    /** What a command does to the state of its key. */
    public enum Kind {
        SET_VALUE,
        CLEAR_VALUE,
        ADD_TO_LIST,
        CLEAR_LIST,
        PUT_IN_MAP,
        REMOVE_FROM_MAP,
        REGISTER_TIMER,
        DELETE_TIMER,
        CLEAR_KEY
    }

    private final int key;
    private final Kind kind;
    private final String text;
    private final int mapKey;
    private final long timestamp;

    public Command(int key, Kind kind, String text, int mapKey, long timestamp) {
        this.key = key;
        this.kind = kind;
        this.text = text;
        this.mapKey = mapKey;
        this.timestamp = timestamp;
    }

    public int getKey() {
        return key;
    }

    public Kind getKind() {
        return kind;
    }

    public String getText() {
        return text;
    }

    public int getMapKey() {
        return mapKey;
    }

    public long getTimestamp() {
        return timestamp;
    }

    @Override
    public String toString() {
        switch (kind) {
            case SET_VALUE:
            case ADD_TO_LIST:
                return key + ":" + kind + "(" + text.length() + " chars)";
            case PUT_IN_MAP:
                return key + ":" + kind + "[" + mapKey + "](" + text.length() + " chars)";
            case REMOVE_FROM_MAP:
                return key + ":" + kind + "[" + mapKey + "]";
            case REGISTER_TIMER:
            case DELETE_TIMER:
                return key + ":" + kind + "@" + timestamp;
            default:
                return key + ":" + kind;
        }
    }
}
