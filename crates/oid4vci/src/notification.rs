//! The notification request (§11.1): which event happened to the credentials of one
//! credential response.

use crate::error::{ErrorCode, is_description_text};
use crate::json::{Member, opt_str, req_str};
use serde_json::{Map, Value};

/// A notification event (§11.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotificationEvent {
    /// The credentials were stored.
    CredentialAccepted,
    /// Storing failed for a reason other than a user action (a partial batch failure too).
    CredentialFailure,
    /// The user deleted or declined them.
    CredentialDeleted,
}

impl NotificationEvent {
    /// The event name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationEvent::CredentialAccepted => "credential_accepted",
            NotificationEvent::CredentialFailure => "credential_failure",
            NotificationEvent::CredentialDeleted => "credential_deleted",
        }
    }

    /// Parses an event name (case-sensitive, §11.1).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "credential_accepted" => Some(NotificationEvent::CredentialAccepted),
            "credential_failure" => Some(NotificationEvent::CredentialFailure),
            "credential_deleted" => Some(NotificationEvent::CredentialDeleted),
            _ => None,
        }
    }
}

/// A notification request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// Not a JSON object, or a repeated member.
    #[error("the notification request is not a JSON object")]
    NotObject,
    /// A required member is missing or empty.
    #[error("notification member `{0}` is missing")]
    Missing(&'static str),
    /// A member has the wrong type.
    #[error("notification member `{0}` has the wrong type")]
    WrongType(&'static str),
    /// `event` is not one of the three events.
    #[error("notification event `{}` is unknown", jose::escape_input(.0))]
    UnknownEvent(String),
    /// `event_description` uses characters outside `%x20-21 / %x23-5B / %x5D-7E`.
    #[error("`event_description` uses characters outside the allowed ASCII set")]
    DescriptionCharacters,
}

impl NotificationError {
    /// The error code (§11.3).
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidNotificationRequest
    }
}

impl From<Member> for NotificationError {
    fn from(m: Member) -> Self {
        match m {
            Member::Missing(n) => NotificationError::Missing(n),
            Member::WrongType(n) => NotificationError::WrongType(n),
        }
    }
}

/// A notification request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationRequest {
    /// From the credential response.
    pub notification_id: String,
    /// What happened.
    pub event: NotificationEvent,
    /// Text for the issuer's developers.
    pub event_description: Option<String>,
}

impl NotificationRequest {
    /// Parses the JSON body (unknown members ignored, §11.1).
    pub fn from_json(text: &[u8]) -> Result<Self, NotificationError> {
        let o = jose::json::parse_object(text).map_err(|_| NotificationError::NotObject)?;
        let notification_id = req_str(&o, "notification_id")?;
        if notification_id.is_empty() {
            return Err(NotificationError::Missing("notification_id"));
        }
        let event = req_str(&o, "event")?;
        let event = NotificationEvent::from_name(event)
            .ok_or_else(|| NotificationError::UnknownEvent(event.to_owned()))?;
        let event_description = opt_str(&o, "event_description")?.map(str::to_owned);
        if event_description
            .as_deref()
            .is_some_and(|d| !is_description_text(d))
        {
            return Err(NotificationError::DescriptionCharacters);
        }
        Ok(NotificationRequest {
            notification_id: notification_id.to_owned(),
            event,
            event_description,
        })
    }

    /// The JSON body.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "notification_id".into(),
            self.notification_id.clone().into(),
        );
        m.insert("event".into(), self.event.as_str().into());
        if let Some(d) = &self.event_description {
            m.insert("event_description".into(), d.clone().into());
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid4vci_11_1_notification_examples_parse() {
        let a = NotificationRequest::from_json(
            br#"{"notification_id":"3fwe98js","event":"credential_accepted"}"#,
        )
        .unwrap();
        assert_eq!(a.event, NotificationEvent::CredentialAccepted);
        let f = NotificationRequest::from_json(
            br#"{"notification_id":"3fwe98js","event":"credential_failure","event_description":"Could not store the Credential. Out of storage."}"#,
        )
        .unwrap();
        assert_eq!(f.event, NotificationEvent::CredentialFailure);
        assert_eq!(
            NotificationRequest::from_json(f.to_value().to_string().as_bytes()).unwrap(),
            f
        );
    }

    #[test]
    fn rejects_unknown_event_and_bad_description() {
        assert_eq!(
            NotificationRequest::from_json(
                br#"{"notification_id":"n","event":"Credential_Accepted"}"#
            ),
            Err(NotificationError::UnknownEvent(
                "Credential_Accepted".into()
            ))
        );
        assert_eq!(
            NotificationRequest::from_json(
                br#"{"notification_id":"n","event":"credential_deleted","event_description":"say \"hi\""}"#
            ),
            Err(NotificationError::DescriptionCharacters)
        );
        assert_eq!(
            NotificationRequest::from_json(br#"{"event":"credential_deleted"}"#),
            Err(NotificationError::Missing("notification_id"))
        );
        assert_eq!(
            NotificationRequest::from_json(br#"{"notification_id":"n","event":1}"#),
            Err(NotificationError::WrongType("event"))
        );
    }
}
