package s3notify

import (
	"fmt"
	"strings"
)

// The keys SNS signs, per message type, in the order it writes them
// ("Verifying the signatures of Amazon SNS messages" in the SNS developer
// guide). A Notification's Subject is signed only when it has one.
var (
	notificationSignedKeys = []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	confirmationSignedKeys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
)

// StringToSign is the text an SNS message's signature covers: each signed
// key of its type and the key's value, as "Key\nValue\n", in SNS's order.
// A signed key that is missing or empty is an *Error naming it: SNS
// always sends them, so such a message is not one SNS signed.
func (m *SNSMessage) StringToSign() (string, error) {
	var keys []string
	switch m.Type {
	case "Notification":
		keys = notificationSignedKeys
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		keys = confirmationSignedKeys
	default:
		return "", &Error{Path: "Type", Message: fmt.Sprintf("SNS message type %s has no known signature", quote(m.Type))}
	}
	values := map[string]string{
		"Message": m.Message, "MessageId": m.MessageID, "SubscribeURL": m.SubscribeURL,
		"Timestamp": m.Timestamp, "Token": m.Token, "TopicArn": m.TopicArn, "Type": m.Type,
	}
	if m.Subject != nil {
		values["Subject"] = *m.Subject // signed even when empty
	}
	var b strings.Builder
	for _, k := range keys {
		v, ok := values[k]
		switch {
		case k == "Subject" && !ok:
			continue
		case k != "Subject" && v == "":
			return "", &Error{Path: k, Message: "is missing, and SNS signs it"}
		}
		b.WriteString(k)
		b.WriteByte('\n')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return b.String(), nil
}
